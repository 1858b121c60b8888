"""A graph as index arrays, plus the per-service constants the simulator draws once.

Glossary: N services (graph order), E edges. Edges are stored sorted by caller so per-caller
reductions are ``np.add.reduceat`` / ``np.maximum.reduceat`` over contiguous segments.

Calibration (how real meshes are provisioned): the nominal load of every service is the fixed
point of load propagation at mean external load, and each replica's capacity is set so the
service runs at a drawn target utilisation with ``nominal_replicas`` replicas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aither_wm.graph.schema import SERVICE_KINDS, ServiceGraph
from aither_wm.sim.config import SimConfig
from aither_wm.sim.load import propagate_load

__all__ = ["SERVICE_MS", "MeshTopology", "build_topology"]

#: Mean service time of one request on an idle replica, milliseconds, by kind.
SERVICE_MS: dict[str, float] = {
    "frontend": 8.0,
    "gateway": 3.0,
    "service": 12.0,
    "cache": 1.0,
    "database": 6.0,
    "queue": 2.0,
}


@dataclass(frozen=True, eq=False)
class MeshTopology:
    """Static arrays of one graph (read-only after construction).

    Attributes:
        graph: the graph.
        kind: kind id (index in SERVICE_KINDS) per service. Shape: [N] int.
        src, dst: caller and callee of each edge, sorted by ``src``. Shape: [E] int.
        is_hard: True on hard edges. Shape: [E] bool.
        is_back: True on edges that close a cycle (DFS from the entry points). A request crosses
            them once: they carry load one hop and the callee's own latency and errors, so
            cycles neither amplify nor recurse. Shape: [E] bool.
        fanout: calls to the callee per request the caller serves. Shape: [E].
        cache_of_edge: for a caller -> database edge whose caller also calls a cache, that cache's
            index (database reads happen on cache misses); -1 otherwise. Shape: [E] int.
        cache_is_hard: the caller's edge to that cache is hard: with the cache down the request
            fails before it reaches the database (a soft one falls back to it). Shape: [E] bool.
        seg_start: first edge of each caller that has callees; ``has_out`` marks those callers.
        ext_share: external request rate per service at mean load, requests/s. Shape: [N].
        service_ms: mean service time per request, milliseconds. Shape: [N].
        nominal_rps: calibrated nominal offered load. Shape: [N].
        capacity_rps: requests/s one ready replica serves at utilisation 1. Shape: [N].
        mem_base, disk_base: resident memory and disk use of a fresh replica. Shape: [N].
        reachable: receives traffic from an entry point. Shape: [N] bool.
        entry: the entry points. Shape: [N] bool.
        timeout_ms, deadline_ms: per-attempt timeout and per-call deadline of each edge (set by
            the simulator's calibration from the callees' nominal latency). Shape: [E].
        depth: edges on the longest acyclic call path.
        sweeps: propagation sweeps per step (longest acyclic path + 1, capped at 16; deeper
            graphs converge over a few steps from the previous step's values).
    """

    graph: ServiceGraph
    kind: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    is_hard: np.ndarray
    is_back: np.ndarray
    fanout: np.ndarray
    cache_of_edge: np.ndarray
    cache_is_hard: np.ndarray
    seg_start: np.ndarray
    has_out: np.ndarray
    ext_share: np.ndarray
    service_ms: np.ndarray
    nominal_rps: np.ndarray
    capacity_rps: np.ndarray
    mem_base: np.ndarray
    disk_base: np.ndarray
    reachable: np.ndarray
    entry: np.ndarray
    timeout_ms: np.ndarray
    deadline_ms: np.ndarray
    depth: int
    sweeps: int

    @property
    def num_services(self) -> int:
        return int(self.kind.shape[0])

    @property
    def num_edges(self) -> int:
        return int(self.src.shape[0])

    def is_kind(self, kind: str) -> np.ndarray:
        """Services of ``kind``. Shape: [N] bool."""
        return self.kind == SERVICE_KINDS.index(kind)

    def edge_index(self, caller: str, callee: str) -> int:
        """Position of edge caller -> callee in the sorted edge arrays; -1 if there is none."""
        u, v = self.graph.index(caller), self.graph.index(callee)
        hits = np.flatnonzero((self.src == u) & (self.dst == v))
        return int(hits[0]) if hits.size else -1


def _back_edges(graph: ServiceGraph) -> set[tuple[int, int]]:
    """Edges that close a cycle, found by DFS from the entry points then the rest (graph order)."""
    N = graph.num_services
    succ = [sorted(graph.index(v) for v in graph.digraph.successors(s)) for s in graph.services]
    state = [0] * N  # 0 new, 1 on the stack, 2 done
    back: set[tuple[int, int]] = set()
    roots = [graph.index(s) for s in graph.entrypoints] + list(range(N))
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            u, it = stack[-1]
            v = next(it, None)
            if v is None:
                state[u] = 2
                stack.pop()
            elif state[v] == 1:
                back.add((u, v))
            elif state[v] == 0:
                state[v] = 1
                stack.append((v, iter(succ[v])))
    return back


def _longest_path(N: int, src: np.ndarray, dst: np.ndarray) -> int:
    """Edges on the longest path of an acyclic edge list (Kahn's order)."""
    indeg = np.bincount(dst, minlength=N)
    out: list[list[int]] = [[] for _ in range(N)]
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        out[u].append(v)
    dist = [0] * N
    ready = [i for i in range(N) if indeg[i] == 0]
    while ready:
        u = ready.pop()
        for v in out[u]:
            dist[v] = max(dist[v], dist[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    return max(dist, default=0)


def build_topology(graph: ServiceGraph, config: SimConfig, *, seed: int) -> MeshTopology:
    """Index arrays and calibrated constants of ``graph``; the draws depend only on ``seed``."""
    rng = np.random.default_rng(seed)
    N = graph.num_services
    kinds = [graph.kind(s) for s in graph.services]
    kind = np.array([SERVICE_KINDS.index(k) for k in kinds], dtype=np.int64)  # [N]
    pairs = sorted(
        (graph.index(u), graph.index(v), d) for u, v, d in graph.digraph.edges(data=True)
    )
    src = np.array([p[0] for p in pairs], dtype=np.int64)  # [E]
    dst = np.array([p[1] for p in pairs], dtype=np.int64)  # [E]
    is_hard = np.array([p[2].get("dependency") != "soft" for p in pairs], dtype=bool)  # [E]
    back = _back_edges(graph)
    is_back = np.array([(p[0], p[1]) in back for p in pairs], dtype=bool)  # [E]
    fanout = rng.uniform(0.2, 1.0, size=len(pairs))  # [E]
    is_cache = kind == SERVICE_KINDS.index("cache")
    cache_of_edge = np.full(len(pairs), -1, dtype=np.int64)
    cache_is_hard = np.zeros(len(pairs), dtype=bool)
    first_cache: dict[int, tuple[int, bool]] = {}
    for e, (u, v, _) in enumerate(pairs):
        if is_cache[v]:
            first_cache.setdefault(u, (v, bool(is_hard[e])))
    for e, (u, v, _) in enumerate(pairs):
        if kinds[v] == "database" and u in first_cache:
            cache_of_edge[e], cache_is_hard[e] = first_cache[u]
    out_deg = np.bincount(src, minlength=N)
    has_out = out_deg > 0
    seg_start = (np.cumsum(out_deg) - out_deg)[has_out]

    entry = np.zeros(N, dtype=bool)
    entry[[graph.index(s) for s in graph.entrypoints]] = True
    in_deg = np.bincount(dst, minlength=N)
    ext_share = np.where(entry, config.entry_rps * rng.uniform(0.7, 1.3, N), 0.0)
    ext_share = np.where(~entry & (in_deg == 0), config.background_rps, ext_share)  # [N]
    depths = graph.depths()
    reachable = np.array([math.isfinite(depths[s]) for s in graph.services], dtype=bool)

    # Nominal load: database fan-out behind a cache already counts a warm cache's misses.
    depth = _longest_path(N, src[~is_back], dst[~is_back])
    sweeps = config.sweeps or min(16, depth + 1)
    nominal = propagate_load(
        src, dst, fanout, ext_share, init=ext_share, sweeps=N + 1, is_back=is_back
    )
    nominal = np.maximum(nominal, 1.0)  # [N]
    util = rng.uniform(config.target_util_low, config.target_util_high, N)
    capacity = nominal / (util * config.nominal_replicas)
    service_ms = np.array([SERVICE_MS[k] for k in kinds]) * rng.uniform(0.8, 1.25, N)
    mem_base = rng.uniform(0.3, 0.5, N)
    disk_base = rng.uniform(0.15, 0.4, N)
    return MeshTopology(
        graph=graph, kind=kind, src=src, dst=dst, is_hard=is_hard, is_back=is_back, fanout=fanout,
        cache_of_edge=cache_of_edge, cache_is_hard=cache_is_hard, seg_start=seg_start,
        has_out=has_out, ext_share=ext_share, service_ms=service_ms, nominal_rps=nominal,
        capacity_rps=capacity, mem_base=mem_base, disk_base=disk_base, reachable=reachable,
        entry=entry, timeout_ms=np.full(len(pairs), config.timeout_ms),
        deadline_ms=np.full(len(pairs), config.deadline_ms), depth=depth, sweeps=int(sweeps),
    )  # fmt: skip
