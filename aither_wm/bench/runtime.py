"""``aither-wm bench runtime``: what Ray adds to a plan, and a controller decision with both planners.

* plan round trip through a planner actor vs the same ``PlannerService`` in-process (p50, one
  request at a time, one torch thread on both sides), and the transport share (round trip minus the
  planner's own search time);
* controller decision latency asking the CEM and MCTS actors at once.

Runs on embedded local Ray (or ``RAY_ADDRESS``) with the default world-model architecture and
untrained weights: the timing of a plan does not depend on what the weights say.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import torch

from aither_wm.graph.schema import load_graph
from aither_wm.graph.state import MeshState, nominal_service_state

__all__ = ["run_runtime_bench"]


def _states(graph, n: int) -> list[MeshState]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        services = {s: nominal_service_state() for s in graph.services}
        victim = graph.services[i % graph.num_services]
        services[victim] = services[victim].model_copy(
            update={"health": "down", "replicas": 0, "error_rate": 1.0}
        )
        out.append(MeshState(graph=graph.name, step=i, services=services))
    return out


def run_runtime_bench(graph_path: Path, *, requests: int = 60, seed: int = 0) -> dict[str, Any]:
    import ray

    from aither_wm.config import WorldModelConfig
    from aither_wm.control import PlannerService, PlanRequest, graph_to_dict
    from aither_wm.runtime import RayHost, RuntimeConfig, start_planner

    graph = load_graph(graph_path)
    graphs = [graph_to_dict(graph)]
    cfg = WorldModelConfig().model_dump()
    reqs = [PlanRequest(state=s, seed=seed + i) for i, s in enumerate(_states(graph, requests))]
    host = RayHost(RuntimeConfig(num_cpus=3))
    info = host.start()
    try:
        actors = {k: start_planner(host.config, k, name=f"bench-{k}", model_config=cfg, graphs=graphs, poll_interval_s=None)
                  for k in ("cem", "mcts")}  # fmt: skip
        ray.get([a.plan.remote(reqs[0]) for a in actors.values()], timeout=300)  # warm up
        remote, transport, both = [], [], []
        for r in reqs:  # one round trip at a time
            t0 = time.perf_counter()
            reply = ray.get(actors["cem"].plan.remote(r), timeout=60)
            remote.append((time.perf_counter() - t0) * 1e3)
            transport.append(remote[-1] - reply.search_ms)
        for r in reqs:  # both planners at once, as the controller asks them
            t0 = time.perf_counter()
            ray.get([a.plan.remote(r) for a in actors.values()], timeout=60)
            both.append((time.perf_counter() - t0) * 1e3)
        for a in actors.values():
            ray.kill(a, no_restart=True)
    finally:
        host.stop()
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = PlannerService("cem", model_config=WorldModelConfig(), graphs=graphs)
        local.plan(reqs[0])
        local_ms = []
        for r in reqs:
            t0 = time.perf_counter()
            local.plan(r)
            local_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(n)
    p50 = statistics.median
    return {
        "graph": graph.name,
        "requests": requests,
        "ray": {k: info.get(k) for k in ("mode", "cpus", "auth_mode")},
        "plan_p50_ms_in_process": p50(local_ms),
        "plan_p50_ms_actor": p50(remote),
        "actor_overhead_p50_ms": p50(remote) - p50(local_ms),
        "transport_p50_ms": p50(transport),
        "both_planners_p50_ms": p50(both),
        "both_planners_p95_ms": sorted(both)[int(0.95 * (len(both) - 1))],
    }
