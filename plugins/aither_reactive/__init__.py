"""aither-reactive: the rule-based reactive runbook policy (a first-party plugin).

Written only against aither-wm's public API; installed through the entry-point group::

    [project.entry-points."aither_wm.plugins"]
    aither-reactive = "aither_reactive:plugin"
"""

from __future__ import annotations

from aither_wm import API_VERSION
from aither_wm.registry import ComponentSpec, PluginSpec

__all__ = ["plugin"]
__version__ = "0.1.0"

plugin = PluginSpec(
    name="aither-reactive",
    version=__version__,
    api_version=API_VERSION,
    components=(
        ComponentSpec(
            "policy",
            "reactive",
            "aither_wm.control.policies:ReactivePolicy",
            "runbook: restart the down/leaking, roll back bad deploys, scale out hot",
        ),
    ),
)
