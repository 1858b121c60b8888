"""dependency.csv (Source, Target) -> the ServiceGraph of the services that have metrics.

An edge is kept when both ends are services with metrics; an edge naming anything else (an IP
address, a load generator without metrics) is reported and skipped. A service with metrics but no
edge becomes a node without edges, with a warning. The entry point is the service named in
``front_service.csv`` (matched case-insensitively) when there is one; it gets kind ``frontend``,
every other service kind ``service``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aither_wm.graph.schema import ServiceGraph, graph_from_dict
from aither_wm.telemetry.report import ReadReport

__all__ = ["build_graph", "read_edges"]


def read_edges(rows: Iterable[Sequence[str]]) -> list[tuple[str, str]]:
    """(caller, callee) pairs from dependency rows (header first: Source, Target, ...)."""
    it = iter(rows)
    header = [h.strip().lower() for h in next(it, [])]
    try:
        s, t = header.index("source"), header.index("target")
    except ValueError:
        s, t = 0, 1
    return [
        (row[s].strip(), row[t].strip())
        for row in it
        if len(row) > max(s, t) and row[s].strip() and row[t].strip()
    ]


def build_graph(
    name: str,
    services: Sequence[str],
    edges: Iterable[tuple[str, str]],
    entry_names: Iterable[str],
    report: ReadReport,
    where: str,
) -> ServiceGraph:
    """The graph over ``services`` (in that order) with the edges among them."""
    known = set(services)
    kept: list[tuple[str, str]] = []
    unknown: dict[str, int] = {}
    for u, v in edges:
        if u == v:
            continue
        if u not in known or v not in known:
            for x in (u, v):
                if x not in known:
                    unknown[x] = unknown.get(x, 0) + 1
            continue
        if (u, v) not in kept:
            kept.append((u, v))
    if unknown:
        names = sorted(unknown)
        shown = ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
        report.add(
            "unknown_edge",
            where,
            f"{sum(unknown.values())} edge end(s) name {len(names)} endpoint(s) without metrics "
            f"({shown}): those edges skipped",
            sum(unknown.values()),
        )
    touched = {x for e in kept for x in e}
    for s in services:
        if s not in touched:
            report.add("isolated_service", where, f"service {s!r} has metrics but no edge")
    lowered = {s.lower(): s for s in services}
    entries = {lowered[e.lower()] for e in entry_names if e.lower() in lowered}
    doc = {
        "name": name,
        "services": [
            {
                "name": s,
                "kind": "frontend" if s in entries else "service",
                "entrypoint": s in entries,
            }
            for s in services
        ],
        "edges": [{"from": u, "to": v} for u, v in kept],
    }
    return graph_from_dict(doc, source=where)
