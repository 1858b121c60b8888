"""Scoring a day: incidents against injections, rankings against injected services.

Detection: a fault is detected when an incident opens in ``[onset, onset + window)``; the delay
is (opening - onset) intervals. An incident opening in some fault's window is a true alarm
(precision = true alarms / incidents); one opening on a fault-free interval (at least the guard
away from every injection) is a false alarm, counted per hour of fault-free traffic. Incidents in
between (after a window, before the guard) are neither, and count against precision only.

Localisation: AS@k = fraction of faults whose injected service is among the top k of a ranking
(ties broken against the injected service: a tied service counts as ranked above it).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aither_wm.anomaly.detector import DetectorConfig, SurpriseDetector

__all__ = ["FaultOutcome", "Tally", "incident_opens", "rank_of", "threshold_opens"]


def incident_opens(scores: np.ndarray, detector: SurpriseDetector) -> list[int]:
    """Intervals at which the (already calibrated) detector opens an incident. Shape: [T]."""
    return [
        t
        for t, s in enumerate(scores)
        if any(e.kind == "open" for e in detector.update(float(s)).events)
    ]


def threshold_opens(scores: np.ndarray, cfg: DetectorConfig) -> list[int]:
    """Incident openings of a score that is already a z-score (n-sigma): open at
    ``cfg.warning_z`` for ``cfg.open_steps`` steps, close after ``cfg.clear_steps`` below
    ``cfg.clear_z``, then ``cfg.cooldown_steps`` quiet. Shape: [T]."""
    opens, is_open, hot, calm, cooldown = [], False, 0, 0, 0
    for t, s in enumerate(scores):
        hot = hot + 1 if s >= cfg.warning_z else 0
        if not is_open:
            if cooldown:
                cooldown -= 1
            elif hot >= cfg.open_steps:
                opens.append(t)
                is_open, calm = True, 0
        else:
            calm = calm + 1 if s < cfg.clear_z else 0
            if calm >= cfg.clear_steps:
                is_open, cooldown = False, cfg.cooldown_steps
    return opens


def rank_of(scores: np.ndarray, target: int) -> int:
    """1-based rank of ``target`` (ties count against it). Shape: scores [N]."""
    return int((scores >= scores[target]).sum())


@dataclass(frozen=True)
class FaultOutcome:
    """One fault, scored: detection delay (None: missed) and localisation ranks."""

    kind: str
    service: str
    onset: int
    delay_steps: int | None
    rank_model: int
    rank_model_inj2: int
    rank_robust_z: int
    detected_nsigma: bool


@dataclass
class Tally:
    """Counts of one bucket (a fold, a fault type, or everything)."""

    step_s: float
    outcomes: list[FaultOutcome] = field(default_factory=list)
    incidents: int = 0
    true_alarms: int = 0
    false_alarms: int = 0
    fault_free_steps: int = 0
    nsigma_incidents: int = 0
    nsigma_true: int = 0
    nsigma_false: int = 0

    def add(self, other: Tally) -> None:
        self.outcomes += other.outcomes
        for k in ("incidents", "true_alarms", "false_alarms", "fault_free_steps",
                  "nsigma_incidents", "nsigma_true", "nsigma_false"):  # fmt: skip
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def _as(self, ranks: Sequence[int | None]) -> dict[str, float | None]:
        n = len(ranks)
        return {
            f"as{k}": (sum(1 for r in ranks if r is not None and r <= k) / n if n else None)
            for k in (1, 3, 5)
        }

    def report(self, *, with_alarms: bool = True) -> dict[str, Any]:
        o = self.outcomes
        n = len(o)
        hours = self.fault_free_steps * self.step_s / 3600.0
        delays = [x.delay_steps * self.step_s / 60.0 for x in o if x.delay_steps is not None]
        at_detection = [x.rank_model if x.delay_steps is not None else x.rank_model_inj2 for x in o]
        strict = [x.rank_model if x.delay_steps is not None else None for x in o]
        out: dict[str, Any] = {
            "faults": n,
            "recall": sum(1 for x in o if x.delay_steps is not None) / n if n else None,
            "median_delay_min": statistics.median(delays) if delays else None,
            "localisation": self._as(at_detection),
            "localisation_missed_as_miss": self._as(strict),
            "localisation_at_injection_2min": self._as([x.rank_model_inj2 for x in o]),
            "baseline_robust_z": self._as([x.rank_robust_z for x in o]),
            "baseline_nsigma_recall": sum(x.detected_nsigma for x in o) / n if n else None,
        }
        if with_alarms:
            out.update(
                precision=self.true_alarms / self.incidents if self.incidents else None,
                false_alarms=self.false_alarms,
                fault_free_hours=hours,
                false_alarms_per_hour=self.false_alarms / hours if hours else None,
                baseline_nsigma_precision=(
                    self.nsigma_true / self.nsigma_incidents if self.nsigma_incidents else None
                ),
                baseline_nsigma_false_alarms_per_hour=self.nsigma_false / hours if hours else None,
            )
        return out
