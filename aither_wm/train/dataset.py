"""Transitions -> tensors, grouped by graph, with a held-out split and seeded batch sampling.

Glossary: T transitions, N services, F features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

from aither_wm.errors import StateError
from aither_wm.graph.actions import ACTION_TYPES, ActionSpace
from aither_wm.graph.features import GraphBatch, featurize
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Transition

__all__ = ["GraphTransitions", "TransitionBatch", "TransitionDataset"]


@dataclass(frozen=True)
class TransitionBatch:
    """A training batch (one graph).

    Attributes:
        state: states. GraphBatch [B, N, F].
        next_state: next states. GraphBatch [B, N, F].
        type_ids: action type ids (position in ACTION_TYPES). Shape: [B] long.
        target_ids: target service index, -1 for noop. Shape: [B] long.
    """

    state: GraphBatch
    next_state: GraphBatch
    type_ids: torch.Tensor
    target_ids: torch.Tensor


@dataclass(frozen=True)
class GraphTransitions:
    """All transitions of one graph as tensors.

    Attributes:
        graph: the graph.
        x: state features. Shape: [T, N, F].
        x_next: next-state features. Shape: [T, N, F].
        rel: relations. Shape: [N, N] long.
        type_ids, target_ids: actions. Shape: [T] long.
        faults: ground-truth fault labels per transition (may be empty tuples).
        actions: flat action index per transition. Shape: [T] long.
    """

    graph: ServiceGraph
    x: torch.Tensor
    x_next: torch.Tensor
    rel: torch.Tensor
    type_ids: torch.Tensor
    target_ids: torch.Tensor
    actions: torch.Tensor
    faults: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def batch(self, idx: torch.Tensor) -> TransitionBatch:
        """Rows ``idx`` [B] as a TransitionBatch (relations shared, not copied)."""
        B, N = int(idx.shape[0]), self.x.shape[1]
        rel = self.rel.unsqueeze(0).expand(B, N, N)  # [B, N, N] view
        mask = torch.ones(B, N, dtype=torch.bool)
        return TransitionBatch(
            state=GraphBatch(self.x[idx], rel, mask),
            next_state=GraphBatch(self.x_next[idx], rel, mask),
            type_ids=self.type_ids[idx],
            target_ids=self.target_ids[idx],
        )

    def subset(self, idx: torch.Tensor) -> GraphTransitions:
        return GraphTransitions(
            graph=self.graph, x=self.x[idx], x_next=self.x_next[idx], rel=self.rel,
            type_ids=self.type_ids[idx], target_ids=self.target_ids[idx], actions=self.actions[idx],
            faults=tuple(self.faults[int(i)] for i in idx),
        )  # fmt: skip

    @staticmethod
    def build(graph: ServiceGraph, transitions: list[Transition]) -> GraphTransitions:
        space = ActionSpace(graph)
        xs, xns, types, targets, flat, faults = [], [], [], [], [], []
        for tr in transitions:
            x, rel = featurize(graph, tr.state)
            xn, _ = featurize(graph, tr.next_state)
            xs.append(x)
            xns.append(xn)
            types.append(ACTION_TYPES.index(tr.action.type))
            targets.append(-1 if tr.action.target is None else graph.index(tr.action.target))
            flat.append(space.index(tr.action))
            faults.append(tuple(tr.faults))
        _, rel = featurize(graph, transitions[0].state)
        return GraphTransitions(
            graph=graph, x=torch.stack(xs), x_next=torch.stack(xns), rel=rel,
            type_ids=torch.tensor(types), target_ids=torch.tensor(targets),
            actions=torch.tensor(flat), faults=tuple(faults),
        )  # fmt: skip


class TransitionDataset:
    """Transitions of one or more graphs; batches are drawn from one graph at a time."""

    def __init__(self, parts: list[GraphTransitions]) -> None:
        if not parts or not any(len(p) for p in parts):
            raise StateError("a transition dataset needs at least one transition")
        self.parts = [p for p in parts if len(p)]

    @classmethod
    def from_transitions(
        cls, transitions: Iterable[Transition], graphs: Mapping[str, ServiceGraph]
    ) -> TransitionDataset:
        """Group by graph name; every graph must be in ``graphs`` (StateError naming it if not)."""
        by_graph: dict[str, list[Transition]] = {}
        for tr in transitions:
            by_graph.setdefault(tr.graph, []).append(tr)
        missing = sorted(set(by_graph) - set(graphs))
        if missing:
            raise StateError(f"transitions name graphs that were not given: {missing}")
        return cls([GraphTransitions.build(graphs[name], trs) for name, trs in by_graph.items()])

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)

    def split(self, holdout_fraction: float) -> tuple[TransitionDataset, TransitionDataset | None]:
        """(train, held-out): the last ``holdout_fraction`` of each graph's transitions, in order."""
        if holdout_fraction <= 0:
            return self, None
        train, held = [], []
        for p in self.parts:
            n_hold = max(1, round(len(p) * holdout_fraction))
            cut = len(p) - n_hold
            train.append(p.subset(torch.arange(0, cut)))
            held.append(p.subset(torch.arange(cut, len(p))))
        return TransitionDataset(train), TransitionDataset(held)

    def sample(self, batch_size: int, generator: torch.Generator) -> TransitionBatch:
        """A batch from one graph chosen in proportion to its size (seeded)."""
        sizes = torch.tensor([len(p) for p in self.parts], dtype=torch.float)
        part = self.parts[int(torch.multinomial(sizes, 1, generator=generator))]
        idx = torch.randint(0, len(part), (batch_size,), generator=generator)  # [B]
        return part.batch(idx)
