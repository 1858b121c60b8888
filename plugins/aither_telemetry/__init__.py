"""aither-telemetry: a recorded telemetry folder (the Nezha layout) replayed as a state source.

Written only against aither-wm's public API (``aither_wm.registry``, ``aither_wm.graph``,
``aither_wm.telemetry``) and installed through the entry-point group a third party uses::

    [project.entry-points."aither_wm.plugins"]
    aither-telemetry = "aither_telemetry:plugin"
"""

from __future__ import annotations

from aither_wm import API_VERSION
from aither_wm.registry import ComponentSpec, PluginSpec

__all__ = ["plugin"]
__version__ = "0.1.0"

plugin = PluginSpec(
    name="aither-telemetry",
    version=__version__,
    api_version=API_VERSION,
    components=(
        ComponentSpec(
            "state_source",
            "telemetry",
            "aither_telemetry.source:ReplayStateSource",
            "replays a recorded telemetry folder (Nezha layout) at a chosen speed",
        ),
    ),
)
