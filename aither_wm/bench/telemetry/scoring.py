"""Scoring a day: incidents against injections, rankings against injected services.

Detection (per detector): a fault is detected when an incident opens in ``[onset, onset + window)``; the delay
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

__all__ = ["DETECTORS", "FaultOutcome", "Tally", "incident_opens", "rank_of", "threshold_opens"]


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


#: The detectors scored, the headline first.
DETECTORS: tuple[str, ...] = ("world_model", "world_model_state", "nsigma")


@dataclass(frozen=True)
class FaultOutcome:
    """One fault, scored: each detector's delay in intervals (None: missed) and the injected
    service's rank in each localiser's ranking."""

    kind: str
    service: str
    onset: int
    delays: dict[str, int | None]
    rank_model: int
    rank_model_inj2: int
    rank_robust_z: int


@dataclass
class Tally:
    """Counts of one bucket (a fold, a fault type, or everything)."""

    step_s: float
    outcomes: list[FaultOutcome] = field(default_factory=list)
    fault_free_steps: int = 0
    alarms: dict[str, list[int]] = field(default_factory=dict)
    """Per detector: [incidents, true alarms, false alarms]."""

    def count_alarms(
        self, name: str, opens: Sequence[int], in_window: np.ndarray, fault_free: np.ndarray
    ) -> None:
        c = self.alarms.setdefault(name, [0, 0, 0])
        c[0] += len(opens)
        c[1] += sum(1 for t in opens if in_window[t])
        c[2] += sum(1 for t in opens if fault_free[t])

    def add(self, other: Tally) -> None:
        self.outcomes += other.outcomes
        self.fault_free_steps += other.fault_free_steps
        for k, v in other.alarms.items():
            mine = self.alarms.setdefault(k, [0, 0, 0])
            for i in range(3):
                mine[i] += v[i]

    @staticmethod
    def _as(ranks: Sequence[int | None]) -> dict[str, float | None]:
        n = len(ranks)
        return {
            f"as{k}": (sum(1 for r in ranks if r is not None and r <= k) / n if n else None)
            for k in (1, 3, 5)
        }

    def detection(self, name: str) -> dict[str, Any]:
        """Recall, median delay (minutes), precision and false alarms per fault-free hour."""
        o = self.outcomes
        n = len(o)
        steps = [d for d in (x.delays[name] for x in o) if d is not None]
        delays = [d * self.step_s / 60.0 for d in steps]
        out: dict[str, Any] = {
            "recall": len(delays) / n if n else None,
            "median_delay_min": statistics.median(delays) if delays else None,
        }
        if name in self.alarms:
            inc, true, false = self.alarms[name]
            hours = self.fault_free_steps * self.step_s / 3600.0
            out.update(
                incidents=inc,
                precision=true / inc if inc else None,
                false_alarms=false,
                false_alarms_per_hour=false / hours if hours else None,
            )
        return out

    def report(self) -> dict[str, Any]:
        o = self.outcomes
        hit = [x.delays[DETECTORS[0]] is not None for x in o]
        return {
            "faults": len(o),
            **self.detection(DETECTORS[0]),
            "fault_free_hours": self.fault_free_steps * self.step_s / 3600.0,
            "localisation": self._as(
                [x.rank_model if h else x.rank_model_inj2 for x, h in zip(o, hit, strict=True)]
            ),
            "localisation_missed_as_miss": self._as(
                [x.rank_model if h else None for x, h in zip(o, hit, strict=True)]
            ),
            "localisation_at_injection_2min": self._as([x.rank_model_inj2 for x in o]),
            "baselines": {
                "robust_z_localiser": self._as([x.rank_robust_z for x in o]),
                **{name: self.detection(name) for name in DETECTORS[1:]},
            },
        }
