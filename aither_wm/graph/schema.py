"""Service-dependency graph files: validation and loading into a networkx DiGraph.

Contract (../shared/design.md): a JSON object with ``name``; ``services``: a list of
``{name, kind}`` with ``kind`` in :data:`SERVICE_KINDS`; ``edges``: a list of ``{from, to}``
(caller -> callee). Optional fields (``dependency: hard|soft``, ``entrypoint: true``, notes,
sources, ...) are kept as node/edge attributes and ignored unless understood. Cycles are allowed.

A malformed file is refused with a :class:`~aither_wm.errors.GraphError` that names the file and
the offending entry (``services[3]``, ``edges[7]``...).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx

from aither_wm.errors import GraphError

__all__ = ["SERVICE_KINDS", "ServiceGraph", "graph_from_dict", "load_graph"]

#: Service kinds a graph file may use, in the fixed order used by features.
SERVICE_KINDS: tuple[str, ...] = ("frontend", "gateway", "service", "cache", "database", "queue")
_DEPENDENCIES = ("hard", "soft")


@dataclass(frozen=True)
class ServiceGraph:
    """A validated service-dependency graph.

    Attributes:
        name: the graph's name (``name`` in the file).
        services: service names in file order: the fixed node order of every tensor built from it.
        digraph: networkx DiGraph, edge caller -> callee; node attrs ``kind``, ``entrypoint``,
            ``index``; edge attr ``dependency`` (``"hard"`` unless the file says ``"soft"``).
        source: where it was loaded from (a path, or ``"<dict>"``).
    """

    name: str
    services: tuple[str, ...]
    digraph: nx.DiGraph
    source: str = "<dict>"
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({s: i for i, s in enumerate(self.services)})

    @property
    def num_services(self) -> int:
        return len(self.services)

    def index(self, service: str) -> int:
        """Position of ``service`` in the node order; GraphError if unknown."""
        try:
            return self._index[service]
        except KeyError:
            raise GraphError(f"{self.name}: unknown service {service!r}") from None

    def kind(self, service: str) -> str:
        return str(self.digraph.nodes[service]["kind"])

    @property
    def entrypoints(self) -> tuple[str, ...]:
        """Services marked ``entrypoint: true``; if none, those with no caller (or all, for a ring)."""
        marked = tuple(s for s in self.services if self.digraph.nodes[s].get("entrypoint"))
        if marked:
            return marked
        roots = tuple(s for s in self.services if self.digraph.in_degree(s) == 0)
        return roots or self.services[:1]

    def callers(self, service: str) -> list[str]:
        return list(self.digraph.predecessors(service))

    def callees(self, service: str) -> list[str]:
        return list(self.digraph.successors(service))

    def depths(self) -> dict[str, float]:
        """Hops from the nearest entry point along call edges (BFS); unreachable -> +inf."""
        depth = {s: math.inf for s in self.services}
        queue: deque[str] = deque()
        for s in self.entrypoints:
            depth[s] = 0.0
            queue.append(s)
        while queue:
            u = queue.popleft()
            for v in self.digraph.successors(u):
                if depth[v] == math.inf:
                    depth[v] = depth[u] + 1.0
                    queue.append(v)
        return depth


def _fail(where: str, msg: str) -> GraphError:
    return GraphError(f"{where}: {msg}")


def graph_from_dict(data: Any, *, source: str = "<dict>") -> ServiceGraph:
    """Validate a parsed graph document and build a :class:`ServiceGraph`.

    Raises:
        GraphError: naming ``source`` and the offending entry.
    """
    if not isinstance(data, dict):
        raise _fail(source, f"expected a JSON object at top level, got {type(data).__name__}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, f"'name' must be a non-empty string, got {name!r}")
    services = data.get("services")
    if not isinstance(services, list) or not services:
        raise _fail(source, "'services' must be a non-empty list of {name, kind}")
    edges = data.get("edges", [])
    if not isinstance(edges, list):
        raise _fail(source, f"'edges' must be a list of {{from, to}}, got {type(edges).__name__}")

    g = nx.DiGraph(name=name)
    order: list[str] = []
    for i, entry in enumerate(services):
        where = f"{source}: services[{i}]"
        if not isinstance(entry, dict):
            raise GraphError(f"{where}: expected an object {{name, kind}}, got {entry!r}")
        sname, kind = entry.get("name"), entry.get("kind")
        if not isinstance(sname, str) or not sname.strip():
            raise GraphError(f"{where}: 'name' must be a non-empty string, got {sname!r}")
        if kind not in SERVICE_KINDS:
            raise GraphError(
                f"{where} ({sname!r}): 'kind' must be one of {', '.join(SERVICE_KINDS)}, got {kind!r}"
            )
        if sname in g:
            raise GraphError(f"{where}: duplicate service name {sname!r}")
        entry_flag = entry.get("entrypoint", False)
        if not isinstance(entry_flag, bool):
            raise GraphError(f"{where} ({sname!r}): 'entrypoint' must be true or false")
        extra = {k: v for k, v in entry.items() if k not in ("name", "kind", "entrypoint")}
        g.add_node(sname, kind=kind, entrypoint=entry_flag, index=i, attrs=extra)
        order.append(sname)

    for j, entry in enumerate(edges):
        where = f"{source}: edges[{j}]"
        if not isinstance(entry, dict):
            raise GraphError(f"{where}: expected an object {{from, to}}, got {entry!r}")
        u, v = entry.get("from"), entry.get("to")
        for role, s in (("from", u), ("to", v)):
            if not isinstance(s, str):
                raise GraphError(f"{where}: '{role}' must be a service name, got {s!r}")
            if s not in g:
                raise GraphError(f"{where}: '{role}' names unknown service {s!r}")
        if u == v:
            raise GraphError(f"{where}: self-loop on {u!r} (a service cannot call itself)")
        dep = entry.get("dependency", "hard")
        if dep not in _DEPENDENCIES:
            raise GraphError(f"{where} ({u}->{v}): 'dependency' must be hard or soft, got {dep!r}")
        if g.has_edge(u, v):
            raise GraphError(f"{where}: duplicate edge {u!r} -> {v!r}")
        g.add_edge(u, v, dependency=dep)

    return ServiceGraph(name=name, services=tuple(order), digraph=g, source=source)


def load_graph(path: str | Path) -> ServiceGraph:
    """Load and validate a graph file, or a shipped graph by name (``online-boutique``; see
    :func:`aither_wm.graph.shipped.resolve_graph`).

    Raises:
        GraphError: the file is missing, not UTF-8 JSON, or malformed (the entry is named).
    """
    from aither_wm.graph.shipped import resolve_graph

    p = resolve_graph(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise GraphError(f"{p}: cannot read graph file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GraphError(f"{p}: not UTF-8 text (byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise GraphError(
            f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}"
        ) from None
    except (ValueError, RecursionError) as e:  # a number too long to convert; nesting too deep
        raise GraphError(f"{p}: invalid JSON ({type(e).__name__}: {str(e)[:80]})") from None
    return graph_from_dict(data, source=str(p))
