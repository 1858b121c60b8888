"""aither-wm: a latent world model (JEPA + SIGReg) that detects, plans and heals a service mesh."""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the public plugin API; plugins declare the one they were written against.
API_VERSION = 1

#: Gymnasium id of the mesh environment (:class:`aither_wm.sim.env.MeshEnv`).
ENV_ID = "aither_wm/Mesh-v0"

__all__ = ["API_VERSION", "ENV_ID", "__version__"]


def _register_env() -> None:
    """Register ``aither_wm/Mesh-v0`` with gymnasium (lazily: the env module is imported only by
    ``gymnasium.make``), so ``import aither_wm`` is enough, as the design's contract says."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="aither_wm.sim.env:MeshEnv")


_register_env()
