"""Faults injected into the live mesh, each a real event on real processes.

=====================  ==========================================================  ==============
name                   what happens                                                textbook fix
=====================  ==========================================================  ==============
``redis_kill``         the cache's redis-server gets SIGKILL                        restart
``process_kill``       every worker of the service gets SIGKILL                     restart
``cpu_hog``            each request burns ``burn_ms`` of CPU (a hot-path bug)       scale out
``memory_leak``        the workers leak ``mb_per_s``; past the limit: OOM kill      restart
``bad_deploy``         release v+1 fails ``error_fraction`` of its requests         rollback
``dependency_latency`` the service answers ``latency_ms`` late (past callers'        restart
                       call timeout: they fail)
=====================  ==========================================================  ==============

:func:`symptom_query` is the PromQL that shows the fault in Prometheus (used to measure how long
after the injection the first sample shows it: the observation delay).
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from aither_wm.graph.schema import ServiceGraph
from aither_wm.live.config import FAULTS
from aither_wm.live.errors import LiveError
from aither_wm.live.mesh import LiveMesh

__all__ = ["FAULTS", "InjectedFault", "default_target", "inject", "symptom_query"]


@dataclass(frozen=True)
class InjectedFault:
    """A fault that was injected: its name, target, parameters and wall-clock time."""

    name: str
    target: str
    at_s: float
    params: dict[str, Any] = field(default_factory=dict)


def default_target(graph: ServiceGraph, fault: str) -> str:
    """A sensible target: a cache for ``redis_kill``, else the non-entry service most called."""
    if fault not in FAULTS:
        raise LiveError(f"unknown fault {fault!r}; expected one of {list(FAULTS)}")
    caches = [s for s in graph.services if graph.kind(s) == "cache"]
    if fault == "redis_kill":
        if not caches:
            raise LiveError(f"graph {graph.name!r} has no cache node for redis_kill")
        return caches[0]
    entry = set(graph.entrypoints)
    pool = [s for s in graph.services if s not in entry and graph.kind(s) != "cache"]
    if not pool:
        raise LiveError(f"graph {graph.name!r} has no non-entry service to target")
    return max(pool, key=lambda s: (len(graph.callers(s)), -graph.index(s)))


def _post_fault(mesh: LiveMesh, service: str, spec: dict[str, Any]) -> None:
    body = json.dumps(spec).encode()
    for url in mesh.admin_urls(service):
        req = urllib.request.Request(f"{url}/fault", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=2.0):
            pass


def inject(mesh: LiveMesh, fault: str, target: str | None = None, **params: Any) -> InjectedFault:
    """Inject ``fault`` into ``target`` (default: :func:`default_target`)."""
    target = target or default_target(mesh.graph, fault)
    spec = mesh.services.get(target)
    if spec is None:
        raise LiveError(f"no service {target!r} in the live mesh")
    if fault == "redis_kill" and not spec["redis_port"]:
        raise LiveError(f"redis_kill needs a cache node, {target!r} is a {spec['kind']}")
    at = time.time()
    if fault in ("redis_kill", "process_kill"):
        mesh.kill(target)
    elif fault == "cpu_hog":
        params = {"burn_ms": 60.0, **params}
        _post_fault(mesh, target, {"kind": "cpu_hog", **params})
    elif fault == "memory_leak":
        params = {"mb_per_s": 12.0, **params}
        _post_fault(mesh, target, {"kind": "memory_leak", **params})
    elif fault == "dependency_latency":
        params = {"latency_ms": 1500.0, **params}
        _post_fault(mesh, target, {"kind": "latency", **params})
    elif fault == "bad_deploy":
        params = {"error_fraction": 0.7, **params}
        mesh.deploy(target, int(spec["version"]) + 1, error_fraction=params["error_fraction"])
    else:
        raise LiveError(f"unknown fault {fault!r}; expected one of {list(FAULTS)}")
    return InjectedFault(fault, target, at, dict(params))


def symptom_query(fault: str, target: str, queries: dict[str, str]) -> str:
    """PromQL whose result has a series labelled ``service=target`` exactly while ``fault`` shows.

    ``queries`` are the state source's metric queries (so the delay measured is the one the
    state source lives with, rate windows included).
    """
    if fault == "redis_kill":
        return f'sum by (service) (aither_ready{{service="{target}"}}) < 0.5'
    if fault == "process_kill":
        return f'sum by (service) (up{{job="aither-live",service="{target}"}}) < 0.5'
    if fault == "bad_deploy":
        return f"({queries['errors']}) / ({queries['rps']}) > 0.05"
    metric, threshold = {
        "cpu_hog": ("cpu", 0.85),
        "memory_leak": ("memory", 0.6),
        "dependency_latency": ("p50_ms", 1000.0),
    }[fault]
    return f"({queries[metric]}) > {threshold}"
