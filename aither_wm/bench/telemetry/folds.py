"""A day of telemetry as model inputs: features, fault-free masks, no-op transitions.

Glossary: T intervals, N services, F features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from aither_wm.graph.actions import ACTION_TYPES
from aither_wm.graph.features import featurize
from aither_wm.graph.state import ActionType
from aither_wm.telemetry import TelemetryDay
from aither_wm.train.dataset import GraphTransitions, TransitionDataset

__all__ = ["DayInputs", "day_inputs", "noop_transitions"]


@dataclass(frozen=True)
class DayInputs:
    """One day, ready for the model.

    Attributes:
        day: the telemetry.
        x: node features of every interval. Shape: [T, N, F].
        rel: relations. Shape: [N, N] uint8.
        onsets: the first interval each fault can show in, in fault order. Shape: [K] int.
        fault_free: at least ``guard_steps`` from every injection (either side). Shape: [T] bool.
    """

    day: TelemetryDay
    x: torch.Tensor
    rel: torch.Tensor
    onsets: np.ndarray
    fault_free: np.ndarray


def day_inputs(day: TelemetryDay, guard_steps: int) -> DayInputs:
    """Featurize every interval and mark the fault-free ones."""
    feats = [featurize(day.graph, s) for s in day.states()]
    x = torch.stack([f[0] for f in feats])  # [T, N, F]
    T = day.num_steps
    onsets = np.array([day.step_of(f.time_s) for f in day.faults], dtype=np.int64)
    t = np.arange(T)
    if onsets.size:
        dist = np.abs(t[:, None] - onsets[None, :]).min(1)  # [T]
        free = dist >= guard_steps
    else:
        free = np.ones(T, dtype=bool)
    return DayInputs(day, x, feats[0][1], onsets, free)


def noop_transitions(inp: DayInputs, rows: np.ndarray) -> TransitionDataset:
    """Transitions (t -> t + 1) for the intervals ``rows`` (each with t + 1 < T), every action a
    no-op (the telemetry records no remediation)."""
    idx = torch.as_tensor(rows, dtype=torch.long)  # [B]
    B = int(idx.shape[0])
    noop = ACTION_TYPES.index(ActionType.noop)
    part = GraphTransitions(
        graph=inp.day.graph,
        x=inp.x[idx],
        x_next=inp.x[idx + 1],
        rel=inp.rel,
        type_ids=torch.full((B,), noop, dtype=torch.long),
        target_ids=torch.full((B,), -1, dtype=torch.long),
        actions=torch.zeros(B, dtype=torch.long),
        faults=((),) * B,
    )
    return TransitionDataset([part])
