"""Seeded synthetic service graphs of any size (for scale tests and benchmarks).

The shape imitates real meshes: one frontend and a gateway tier, layers of services whose callees
sit in deeper layers, caches and databases at the bottom, a few soft edges and a few back edges
(cycles, as real call graphs have).
"""

from __future__ import annotations

import random

from aither_wm.errors import GraphError
from aither_wm.graph.schema import ServiceGraph, graph_from_dict

__all__ = ["generate_graph"]


def generate_graph(num_services: int, *, seed: int = 0, name: str | None = None) -> ServiceGraph:
    """A layered service graph with ``num_services`` services (>= 1), reproducible by ``seed``."""
    if num_services < 1:
        raise GraphError(f"generate_graph: num_services must be >= 1, got {num_services}")
    rng = random.Random(seed)
    n = num_services
    n_store = max(0, n // 6)  # caches + databases at the bottom
    kinds = ["frontend"] + ["gateway"] * min(max(0, n // 50), max(0, n - 1 - n_store))
    kinds += ["service"] * (n - len(kinds) - n_store)
    kinds += [rng.choice(("cache", "database", "queue")) for _ in range(n_store)]
    kinds = kinds[:n]
    services = [
        {"name": f"svc-{i:04d}", "kind": k, **({"entrypoint": True} if i == 0 else {})}
        for i, k in enumerate(kinds)
    ]
    edges: list[dict[str, str]] = []
    seen: set[tuple[int, int]] = set()

    def add(u: int, v: int, dependency: str = "hard") -> None:
        if u != v and (u, v) not in seen:
            seen.add((u, v))
            edges.append({"from": f"svc-{u:04d}", "to": f"svc-{v:04d}", "dependency": dependency})

    for v in range(1, n):  # every service has a caller among the earlier ones: all reachable
        add(rng.randrange(0, v), v)
    for u in range(n):  # extra fan-out to deeper services
        for _ in range(rng.choice((0, 1, 1, 2))):
            if u + 1 < n:
                add(u, rng.randrange(u + 1, n), rng.choice(("hard", "hard", "soft")))
    for _ in range(max(0, n // 20)):  # a few back edges (cycles)
        u = rng.randrange(1, n)
        if u > 1:
            add(u, rng.randrange(1, u), "soft")
    return graph_from_dict(
        {"name": name or f"generated-{n}-s{seed}", "services": services, "edges": edges},
        source=f"<generated n={n} seed={seed}>",
    )
