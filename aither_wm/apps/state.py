"""The JSON state format a host sends: reading a state file, and writing an example one.

A state file is one JSON object, a :class:`~aither_wm.graph.state.MeshState`::

    {"graph": "online-boutique", "step": 42,
     "services": {"adservice": {"cpu_util": 0.31, "memory_util": 0.42, "latency_p50_ms": 21.0,
                                "latency_p99_ms": 64.0, "error_rate": 0.0,
                                "request_rate_rps": 48.0, "replicas": 2, "health": "healthy",
                                "version": 1, "previous_version": null}, ...}}

with one entry per service of the graph (docs/host.md lists the fields, their units and ranges).
``aither-wm state example --graph G`` writes one from the simulator (optionally with a fault);
``aither-wm plan --state FILE`` and ``AitherPlugin.decide`` read the same format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aither_wm.errors import StateError
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState, parse_state

__all__ = ["example_state", "read_state_file", "write_state_file"]


def read_state_file(path: str | Path, graph: ServiceGraph) -> MeshState:
    """The MeshState in the JSON file ``path``, checked against ``graph``.

    Raises:
        StateError: unreadable, not JSON, not a state of ``graph`` (the first bad field named),
            or a transitions-log line (which holds two states: the message says which to take).
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 and JSON
        raise StateError(f"{path}: cannot read state JSON ({e})") from None
    if isinstance(raw, dict) and "state" in raw and "next_state" in raw:
        raise StateError(
            f"{path}: this is a transitions-log line (two states and an action); a state file "
            f"is one state object: write its 'next_state' (the newer one) alone, or see "
            f"`aither-wm state example`"
        )
    try:
        return parse_state(raw, graph)
    except StateError as e:
        raise StateError(f"{path}: {e}") from None


def write_state_file(state: MeshState, path: str | Path) -> Path:
    """Write ``state`` as an indented JSON object (the format :func:`read_state_file` reads)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(state_json(state) + "\n", encoding="utf-8")
    return p


def state_json(state: MeshState) -> str:
    """``state`` as indented JSON text."""
    data: dict[str, Any] = state.model_dump(mode="json")
    return json.dumps(data, indent=2)


def example_state(
    graph: ServiceGraph,
    *,
    fault: str | None = None,
    target: str | None = None,
    seed: int = 0,
    max_steps: int = 30,
) -> MeshState:
    """A realistic state of ``graph`` from the simulator: a few quiet steps, then (with
    ``fault``) the fault injected on ``target`` (default: the first service that is not an entry
    point) and steps until some service's health check fails (at most ``max_steps``)."""
    from aither_wm.sim import MeshSimulator

    sim = MeshSimulator(graph, seed=seed)
    sim.reset(seed)
    for _ in range(3):
        sim.step(Action.noop())
    if fault is None:
        return sim.observe()
    if target is None:
        entry = {s for s in graph.services if graph.digraph.nodes[s].get("entrypoint")}
        target = next((s for s in graph.services if s not in entry), graph.services[0])
    elif target not in graph.services:
        raise StateError(f"--target: no service {target!r} in graph {graph.name!r}")
    sim.inject(fault, target)
    for _ in range(max_steps):
        sim.step(Action.noop())
        if any(s.health != "healthy" for s in sim.observe().services.values()):
            break
    return sim.observe()
