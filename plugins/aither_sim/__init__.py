"""aither-sim: the mesh simulator as a state source and an executor (a first-party plugin).

Written only against aither-wm's public API (``aither_wm.registry``, ``aither_wm.graph``,
``aither_wm.sim``), and installed through the same entry-point group a third party uses::

    [project.entry-points."aither_wm.plugins"]
    aither-sim = "aither_sim:plugin"
"""

from __future__ import annotations

from aither_wm import API_VERSION
from aither_wm.registry import ComponentSpec, PluginSpec

__all__ = ["plugin"]
__version__ = "0.1.0"

#: What the ``aither_wm.plugins`` entry point resolves to. Components are lazy strings: nothing
#: heavier than this module is imported until a host asks for one of them.
plugin = PluginSpec(
    name="aither-sim",
    version=__version__,
    api_version=API_VERSION,
    components=(
        ComponentSpec(
            "state_source",
            "sim",
            "aither_sim.source:SimStateSource",
            "simulated mesh with scheduled and random faults",
        ),
        ComponentSpec(
            "executor",
            "sim",
            "aither_sim.source:SimExecutor",
            "applies actions to the simulated mesh of a SimStateSource",
        ),
    ),
)
