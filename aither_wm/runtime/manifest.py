"""The plugin manifest a host reads (``plugins/manifest.json``), built from the code itself.

It states the plugin's name and version, the API version, the entry points of the first-party
plugins and the components each provides, the host-facing object and its lifecycle, the actors
started with their resources, and the JSON schema of the ``aither-wm run`` config file.
A test keeps the file equal to :func:`build_manifest`; regenerate it with
``python -m aither_wm.runtime.manifest plugins/manifest.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aither_wm import API_VERSION, __version__
from aither_wm.registry import ENTRY_POINT_GROUP, PluginSpec, import_target

__all__ = ["FIRST_PARTY_ENTRY_POINTS", "build_manifest", "write_manifest"]

#: ``name = "module:attr"`` lines of ``[project.entry-points."aither_wm.plugins"]``.
FIRST_PARTY_ENTRY_POINTS: dict[str, str] = {
    "aither-sim": "aither_sim:plugin",
    "aither-reactive": "aither_reactive:plugin",
    "aither-telemetry": "aither_telemetry:plugin",
}


def _plugin_entry(name: str, target: str) -> dict[str, Any]:
    spec = import_target(target)
    assert isinstance(spec, PluginSpec), target
    return {
        "name": spec.name,
        "entry_point": {"group": ENTRY_POINT_GROUP, "name": name, "value": target},
        "version": spec.version,
        "api_version": spec.api_version,
        "components": [
            {"kind": c.kind, "name": c.name, "target": c.target, "description": c.description}
            for c in spec.components
        ],
    }


def build_manifest() -> dict[str, Any]:
    """The manifest as a plain dict (needs the first-party plugin packages importable)."""
    from aither_wm.runtime.host import RuntimeConfig
    from aither_wm.runtime.resources import FULL_CPUS
    from aither_wm.runtime.settings import ServiceConfig

    rt = RuntimeConfig()

    def cpus(value: float | None, full: float) -> float | str:
        return value if value is not None else f"derived: {full:g}, less when the actors do not fit"

    return {
        "manifest_version": 1,
        "name": "aither-wm",
        "version": __version__,
        "api_version": API_VERSION,
        "description": "Latent JEPA world model of a service mesh with CEM and MCTS planners "
        "and an autoheal controller, as a Ray plugin.",
        "entry_point_group": ENTRY_POINT_GROUP,
        "plugins": [_plugin_entry(n, t) for n, t in FIRST_PARTY_ENTRY_POINTS.items()],
        "host": {
            "object": "aither_wm.runtime.plugin:AitherPlugin",
            "config": "aither_wm.runtime.plugin:PluginConfig",
            "lifecycle": ["setup", "start", "health", "stop"],
            "calls": ["decide", "decide_async", "plan", "plan_async"],
            "guide": "docs/host.md",
            "commands": {
                "demo": "aither-wm demo [--quick] [--out DIR]",
                "run": "aither-wm run --config FILE",
                "plugins": "aither-wm plugins list",
                "plan": "aither-wm plan --checkpoint FILE --state FILE [--planner mcts]",
                "state": "aither-wm state example --graph NAME [--out FILE]",
            },
            "ray": {
                "embedded": "ray.init(num_cpus, object_store_memory, include_dashboard=False)",
                "cluster": "RAY_ADDRESS",
                "namespace": rt.namespace,
                "token_auth": "on (Ray default)",
                "dashboard_host": rt.dashboard_host,
                "object_store_mb": rt.object_store_mb,
            },
        },
        "actors": [
            {
                "name": "aither_wm.trainer",
                "class": "aither_wm.runtime.actors:TrainerActor",
                "count": 1,
                "resources": {
                    "num_cpus": cpus(rt.trainer_num_cpus, FULL_CPUS["trainer"]),
                    "num_gpus": rt.trainer_num_gpus,
                },
                "max_restarts": rt.max_restarts,
                "state": "checkpoint + transitions log (resumed on restart)",
            },
            {
                "name": "aither_wm.planner.<name>",
                "class": "aither_wm.runtime.actors:PlannerActor",
                "count": "one per configured planner (default: cem, mcts)",
                "resources": {
                    "num_cpus": cpus(rt.planner_num_cpus, FULL_CPUS["planner"]),
                    "torch_threads": 1,
                },
                "max_restarts": rt.max_restarts,
            },
            {
                "name": "aither_wm.encoder",
                "class": "aither_wm.runtime.actors:EncoderActor",
                "count": "0 or 1",
                "resources": {"num_cpus": cpus(rt.encoder_num_cpus, FULL_CPUS["encoder"])},
                "max_restarts": rt.max_restarts,
            },
            {
                "name": "aither_wm.controller",
                "class": "aither_wm.runtime.actors:ControllerActor",
                "count": "1 (aither-wm run)",
                "resources": {"num_cpus": rt.controller_num_cpus},
                "max_restarts": rt.max_restarts,
            },
        ],
        "config_schema": ServiceConfig.model_json_schema(),
    }


def write_manifest(path: str | Path) -> Path:
    p = Path(path)
    p.write_text(json.dumps(build_manifest(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return p


if __name__ == "__main__":  # pragma: no cover
    write_manifest(sys.argv[1] if len(sys.argv) > 1 else "plugins/manifest.json")
