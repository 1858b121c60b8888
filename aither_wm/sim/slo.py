"""SLO accounting at the entry points: per-step status and episode scores.

A step violates the SLO when the entry points' availability (1 - error rate, weighted by their
external load) is below target, or their worst p99 latency is above target. Episodes are scored
in SLO-violation minutes, time to mitigate (SLO back under target and held), and actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SLOStatus", "score_episode", "slo_status", "time_to_mitigate_steps"]


@dataclass(frozen=True)
class SLOStatus:
    """The SLO at the entry points over one step.

    Attributes:
        availability: 1 - error rate at the entry points, weighted by their external load.
        availability_target: the availability the SLO requires.
        latency_p99_ms: the worst p99 latency among the entry points, milliseconds.
        latency_target_ms: the p99 latency the SLO allows, milliseconds.
        violated: availability below target or p99 above target.
    """

    availability: float
    availability_target: float
    latency_p99_ms: float
    latency_target_ms: float
    violated: bool

    @property
    def is_available(self) -> bool:
        return self.availability >= self.availability_target

    @property
    def is_fast(self) -> bool:
        return self.latency_p99_ms <= self.latency_target_ms


def slo_status(
    *,
    entry: np.ndarray,
    ext: np.ndarray,
    err: np.ndarray,
    p99_ms: np.ndarray,
    availability_target: float,
    latency_target_ms: float,
) -> SLOStatus:
    """SLO status from per-service arrays. Shapes: entry [N] bool; ext, err, p99_ms [N]."""
    weights = np.where(entry, ext, 0.0)  # [N]
    if weights.sum() <= 0.0:
        weights = entry.astype(float)
    availability = float(1.0 - np.dot(weights, err) / weights.sum())
    p99 = float(np.max(p99_ms[entry]))
    violated = availability < availability_target or p99 > latency_target_ms
    return SLOStatus(
        availability=availability,
        availability_target=float(availability_target),
        latency_p99_ms=p99,
        latency_target_ms=float(latency_target_ms),
        violated=bool(violated),
    )


def time_to_mitigate_steps(
    violated: Sequence[bool], *, start: int, hold_steps: int = 4
) -> int | None:
    """Steps from ``start`` until the SLO is met and stays met for ``hold_steps`` steps.

    Returns None if that never happens within the sequence.
    """
    run = 0
    for t in range(start, len(violated)):
        run = 0 if violated[t] else run + 1
        if run >= hold_steps:
            return t - hold_steps + 1 - start
    return None


def score_episode(
    statuses: Sequence[SLOStatus],
    *,
    step_seconds: float,
    effects: Sequence[str] = (),
    onset_step: int | None = None,
    hold_steps: int = 4,
) -> dict[str, float | int | None]:
    """Episode scores: SLO-violation minutes, mean availability, time to mitigate, actions.

    Args:
        statuses: one SLOStatus per step.
        step_seconds: seconds per step.
        effects: the effect label of each step's action (StepResult.effect).
        onset_step: step of the fault's onset (time to mitigate is measured from it).
        hold_steps: steps the SLO must hold to count as mitigated.
    """
    violated = [s.violated for s in statuses]
    ttm = None
    if onset_step is not None:
        steps = time_to_mitigate_steps(violated, start=onset_step, hold_steps=hold_steps)
        ttm = None if steps is None else steps * step_seconds
    return {
        "steps": len(statuses),
        "slo_violation_minutes": sum(violated) * step_seconds / 60.0,
        "mean_availability": float(np.mean([s.availability for s in statuses]))
        if statuses
        else 1.0,
        "time_to_mitigate_s": ttm,
        "actions": sum(e != "noop" for e in effects),
        "wrong_actions": sum(e in ("no_effect", "false_positive") for e in effects),
        "harmful_actions": sum(e == "harmful" for e in effects),
    }
