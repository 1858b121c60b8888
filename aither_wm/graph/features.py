"""Mesh state -> tensors: node features [N, F] and structure, in the graph's fixed node order.

Features are topology-agnostic (a service is described by its kind, degrees, depth from the entry
points and its metrics, never by its name or index), so one model serves graphs it has not seen.

Glossary: B batch, N services, F = STRUCT_DIM + METRIC_DIM node features, R relation types.

Columns of ``x`` (first STRUCT_DIM are static per graph; the encoder conditions AdaLN on them):
  structural: kind one-hot (6), is_entrypoint, log1p in-degree, log1p out-degree,
              depth / (1 + depth), is_unreachable
  metrics:    cpu, memory, gpu memory, disk, log-latency p50 and p99, error rate,
              log request rate, log replicas, health one-hot (3), has_previous_version
Relations ``rel[i, j]`` (for attention bias): 0 none, 1 self, 2 i calls j (hard), 3 i calls j
(soft), 4 j calls i (hard), 5 j calls i (soft). When i and j call each other, "i calls j" wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from aither_wm.errors import ShapeError
from aither_wm.graph.schema import SERVICE_KINDS, ServiceGraph
from aither_wm.graph.state import MeshState

__all__ = [
    "FEATURE_DIM",
    "FEATURE_NAMES",
    "METRIC_DIM",
    "NUM_RELATIONS",
    "STRUCT_DIM",
    "GraphBatch",
    "collate",
    "featurize",
    "metric_features",
    "structure",
]

_STRUCT_NAMES = (
    *(f"kind_{k}" for k in SERVICE_KINDS),
    "is_entrypoint",
    "log_in_degree",
    "log_out_degree",
    "depth_squashed",
    "is_unreachable",
)
_METRIC_NAMES = (
    "cpu_util",
    "memory_util",
    "gpu_memory_util",
    "disk_util",
    "log_latency_p50",
    "log_latency_p99",
    "error_rate",
    "log_request_rate",
    "log_replicas",
    "health_healthy",
    "health_degraded",
    "health_down",
    "has_previous_version",
)
FEATURE_NAMES: tuple[str, ...] = (*_STRUCT_NAMES, *_METRIC_NAMES)
STRUCT_DIM = len(_STRUCT_NAMES)
METRIC_DIM = len(_METRIC_NAMES)
FEATURE_DIM = STRUCT_DIM + METRIC_DIM
NUM_RELATIONS = 6

_LOG_LAT = math.log1p(10_000.0)  # latencies scaled so 10 s -> 1
_LOG_RPS = math.log1p(10_000.0)
_LOG_REPLICAS = math.log1p(10.0)


@dataclass(frozen=True)
class GraphBatch:
    """A padded batch of mesh states.

    Attributes:
        x: node features. Shape: [B, N, F] float32.
        rel: relation ids for attention bias. Shape: [B, N, N] uint8 (may be an expanded view).
        mask: True on real services, False on padding. Shape: [B, N] bool.
    """

    x: torch.Tensor
    rel: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.dim() != 3 or self.x.shape[-1] != FEATURE_DIM:
            raise ShapeError(
                f"GraphBatch.x must be [B, N, {FEATURE_DIM}], got {tuple(self.x.shape)}"
            )
        B, N, _ = self.x.shape
        if tuple(self.rel.shape) != (B, N, N):
            raise ShapeError(f"GraphBatch.rel must be [{B}, {N}, {N}], got {tuple(self.rel.shape)}")
        if tuple(self.mask.shape) != (B, N) or self.mask.dtype != torch.bool:
            raise ShapeError(
                f"GraphBatch.mask must be bool [{B}, {N}], got {tuple(self.mask.shape)}"
            )

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[0])

    def to(self, device: torch.device | str) -> GraphBatch:
        return GraphBatch(self.x.to(device), self.rel.to(device), self.mask.to(device))

    def index(self, idx: torch.Tensor | slice) -> GraphBatch:
        """Rows ``idx`` of the batch."""
        return GraphBatch(self.x[idx], self.rel[idx], self.mask[idx])


@lru_cache(maxsize=64)
def structure(graph: ServiceGraph) -> tuple[torch.Tensor, torch.Tensor]:
    """Static per-graph tensors: structural features [N, STRUCT_DIM] and relations [N, N] uint8.

    Cached per graph object (graphs are immutable); treat the results as read-only.
    """
    g, names = graph.digraph, graph.services
    N = len(names)
    depths = graph.depths()
    entry = set(graph.entrypoints)
    feats = torch.zeros(N, STRUCT_DIM)
    for i, s in enumerate(names):
        feats[i, SERVICE_KINDS.index(graph.kind(s))] = 1.0
        d = depths[s]
        feats[i, 6:] = torch.tensor(
            [
                float(s in entry),
                math.log1p(g.in_degree(s)),
                math.log1p(g.out_degree(s)),
                1.0 if math.isinf(d) else d / (1.0 + d),
                float(math.isinf(d)),
            ]
        )
    rel = torch.zeros(N, N, dtype=torch.uint8)  # uint8: 10,000 services fit in 100 MB
    rel.fill_diagonal_(1)
    for u, v, data in g.edges(data=True):
        i, j = graph.index(u), graph.index(v)
        soft = data.get("dependency") == "soft"
        rel[i, j] = 3 if soft else 2
        if rel[j, i] == 0:
            rel[j, i] = 5 if soft else 4
    return feats, rel


def metric_features(graph: ServiceGraph, state: MeshState) -> torch.Tensor:
    """Per-service metric features in graph order. Shape: [N, METRIC_DIM]."""
    state.check_graph(graph)
    rows = []
    for s in graph.services:
        v = state.services[s]
        rows.append(
            [
                v.cpu_util,
                v.memory_util,
                v.gpu_memory_util,
                v.disk_util,
                math.log1p(v.latency_p50_ms) / _LOG_LAT,
                math.log1p(v.latency_p99_ms) / _LOG_LAT,
                v.error_rate,
                math.log1p(v.request_rate_rps) / _LOG_RPS,
                math.log1p(v.replicas) / _LOG_REPLICAS,
                float(v.health == "healthy"),
                float(v.health == "degraded"),
                float(v.health == "down"),
                float(v.previous_version is not None),
            ]
        )
    return torch.tensor(rows, dtype=torch.float32)  # [N, METRIC_DIM]


def featurize(graph: ServiceGraph, state: MeshState) -> tuple[torch.Tensor, torch.Tensor]:
    """One state -> (x [N, F], rel [N, N])."""
    struct, rel = structure(graph)
    x = torch.cat([struct, metric_features(graph, state)], dim=-1)  # [N, F]
    return x, rel


def collate(items: list[tuple[torch.Tensor, torch.Tensor]]) -> GraphBatch:
    """Pad a list of (x [N_b, F], rel [N_b, N_b]) to a GraphBatch [B, N_max, ...] with a mask.

    Items sharing one graph keep their relation tensor shared (no copy when all N are equal and
    every item uses the same ``rel`` object).
    """
    if not items:
        raise ShapeError("collate needs at least one item")
    B = len(items)
    n_max = max(x.shape[0] for x, _ in items)
    same_rel = all(r is items[0][1] for _, r in items) and items[0][0].shape[0] == n_max
    if all(x.shape[0] == n_max for x, _ in items):
        x = torch.stack([x for x, _ in items])  # [B, N, F]
        mask = torch.ones(B, n_max, dtype=torch.bool)
    else:
        x = torch.zeros(B, n_max, FEATURE_DIM)
        mask = torch.zeros(B, n_max, dtype=torch.bool)
        for b, (xb, _) in enumerate(items):
            x[b, : xb.shape[0]] = xb
            mask[b, : xb.shape[0]] = True
    if same_rel:
        rel = items[0][1].unsqueeze(0).expand(B, n_max, n_max)  # [B, N, N] view
    else:
        rel = torch.zeros(B, n_max, n_max, dtype=torch.uint8)
        for b, (xb, rb) in enumerate(items):
            n = xb.shape[0]
            rel[b, :n, :n] = rb
    return GraphBatch(x=x, rel=rel, mask=mask)
