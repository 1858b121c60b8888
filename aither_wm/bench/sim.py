"""``aither-wm bench sim``: simulator throughput, and how per-step cost grows with the mesh.

Two costs per step are measured: ``physics`` (load, queueing, calls, pods, faults: the numpy
core) and ``full`` (physics plus the noisy observation as a validated-shape MeshState, what
:meth:`~aither_wm.sim.mesh.MeshSimulator.step` returns). The scaling sweep runs generated graphs
of increasing size and reports microseconds per step per (services + edges): near-constant
means near-linear cost. Propagation sweeps grow with the graph's depth, reported alongside.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aither_wm.graph.generate import generate_graph
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import Action
from aither_wm.sim.mesh import MeshSimulator

__all__ = ["run_sim_bench", "time_simulator"]

_GRAPHS_DIR = Path(__file__).resolve().parents[2] / "graphs"
DEFAULT_GRAPHS: tuple[str, ...] = ("deathstarbench-socialnetwork",)


def time_simulator(
    graph: ServiceGraph, *, steps: int, seed: int = 0, repeats: int = 3
) -> dict[str, Any]:
    """Steps/s of ``graph`` (a pod kill, then no-ops), physics-only and full; the best of
    ``repeats`` timings of ``steps`` steps each (the least disturbed by other processes)."""
    sim = MeshSimulator(graph, seed=seed)
    sim.reset(seed=seed)
    target = graph.services[len(graph.services) // 2]
    sim.inject("pod_kill", target=target)
    noop = Action.noop()
    for _ in range(3):  # warm-up
        sim.step(noop)
    physics = full = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            sim._advance(noop)
        physics = min(physics, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(steps):
            sim.step(noop)
        full = min(full, time.perf_counter() - t0)
    topo = sim.topology
    return {
        "graph": graph.name,
        "services": topo.num_services,
        "edges": topo.num_edges,
        "sweeps": topo.sweeps,
        "steps": steps,
        "physics_steps_per_s": round(steps / physics, 1),
        "full_steps_per_s": round(steps / full, 1),
        "physics_us_per_step": round(1e6 * physics / steps, 1),
        "full_us_per_step": round(1e6 * full / steps, 1),
    }


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) on log(x): 1.0 is linear growth."""
    lx, ly = np.log(np.asarray(xs, dtype=float)), np.log(np.asarray(ys, dtype=float))
    return float(np.polyfit(lx, ly, 1)[0])


def run_sim_bench(
    graphs: Sequence[str | Path] | None = None,
    *,
    steps: int = 200,
    sizes: Sequence[int] = (10, 100, 300, 1000),
    generated: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Throughput on named graphs and a generated one, plus a scaling sweep.

    Args:
        graphs: graph files or names of shipped graphs (default: deathstarbench-socialnetwork).
        steps: timed steps per measurement.
        sizes: service counts of the scaling sweep (generated graphs).
        generated: size of the generated graph measured beside the named ones.

    Returns:
        ``{"graphs": [...], "scaling": [...], "scaling_slope": {...}}``: steps/s and
        microseconds per step; in the sweep also microseconds per (services + edges) and the
        ratio to the smallest size (near 1 = near-linear); slopes of log-cost on log-size.
    """
    named = [_resolve(g) for g in (graphs if graphs is not None else DEFAULT_GRAPHS)]
    results = [time_simulator(load_graph(p), steps=steps, seed=seed) for p in named]  # full graphs
    results.append(time_simulator(generate_graph(generated, seed=seed), steps=steps, seed=seed))
    sweep = []
    for n in sizes:
        row = time_simulator(generate_graph(n, seed=seed), steps=max(20, steps // 2), seed=seed)
        size = row["services"] + row["edges"]
        row["us_per_element_physics"] = round(row["physics_us_per_step"] / size, 3)
        row["us_per_element_full"] = round(row["full_us_per_step"] / size, 3)
        sweep.append(row)
    base_p, base_f = sweep[0]["us_per_element_physics"], sweep[0]["us_per_element_full"]
    for row in sweep:
        row["cost_ratio_physics"] = round(row["us_per_element_physics"] / base_p, 3)
        row["cost_ratio_full"] = round(row["us_per_element_full"] / base_f, 3)
    big = [r for r in sweep if r["services"] >= 100] or sweep
    xs = [r["services"] + r["edges"] for r in big]
    fit = len(big) >= 2
    slopes = {
        "physics": round(_slope(xs, [r["physics_us_per_step"] for r in big]), 3) if fit else None,
        "full": round(_slope(xs, [r["full_us_per_step"] for r in big]), 3) if fit else None,
        "fit_sizes": [r["services"] for r in big],
    }
    return {"bench": "sim", "graphs": results, "scaling": sweep, "scaling_slope": slopes}


def _resolve(graph: str | Path) -> Path:
    p = Path(graph)
    if p.suffix == ".json" or p.exists():
        return p
    return _GRAPHS_DIR / f"{graph}.json"
