"""aither-live: a live mesh read through Prometheus and acted on through a process supervisor.

Written only against aither-wm's public API (``aither_wm.registry``, ``aither_wm.graph``,
``aither_wm.live``) and installed through the entry-point group a third party uses::

    [project.entry-points."aither_wm.plugins"]
    aither-live = "aither_live:plugin"
"""

from __future__ import annotations

from aither_wm import API_VERSION
from aither_wm.registry import ComponentSpec, PluginSpec

__all__ = ["plugin"]
__version__ = "0.1.0"

plugin = PluginSpec(
    name="aither-live",
    version=__version__,
    api_version=API_VERSION,
    components=(
        ComponentSpec(
            "state_source",
            "live",
            "aither_live.source:PrometheusStateSource",
            "mesh states from Prometheus' HTTP API (PromQL per metric, stale marking)",
        ),
        ComponentSpec(
            "executor",
            "live",
            "aither_live.executor:SupervisorExecutor",
            "restart / scale / rollback real processes through the live mesh supervisor",
        ),
    ),
)
