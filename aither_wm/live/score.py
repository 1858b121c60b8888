"""Scoring a live heal run from its samples (pure: no clock, no I/O).

A heal run samples the mesh once per tick after the fault (:class:`HealSample`). The scores use
the simulator's rules (:mod:`aither_wm.sim.slo`): SLO-violation time is the time spent in ticks
whose SLO was violated, and the fault is mitigated at the first tick of the first stretch of
``hold_ticks`` ticks in a row that were fixed (SLO met, the target healthy, its symptom gone),
:func:`~aither_wm.sim.slo.time_to_mitigate_steps` with ticks as steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aither_wm.sim.slo import time_to_mitigate_steps

__all__ = ["HealSample", "HealScore", "hold_ticks", "score_heal"]


@dataclass(frozen=True)
class HealSample:
    """One tick after the fault.

    Attributes:
        t_s: seconds after the injection.
        client_error_rate: the load generator's error rate over the rate window (None: no traffic).
        client_p99_ms: its p99 latency, ms (None: no traffic).
        slo_ok: the client SLO held (error rate and p99 under their targets).
        fixed: ``slo_ok``, the target healthy and its symptom gone from Prometheus.
        acted: the controller decided something other than a no-op.
        target_health: the target's observed health (None: no state yet).
        target_replicas: its observed replicas (None: no state yet).
        stale: services (or the Prometheus error) the state source could not read fresh.
    """

    t_s: float
    client_error_rate: float | None
    client_p99_ms: float | None
    slo_ok: bool
    fixed: bool
    acted: bool
    target_health: str | None = None
    target_replicas: int | None = None
    stale: list[str] = field(default_factory=list)

    def timeline_row(self) -> dict[str, Any]:
        """The sample as a row of the report's ``timeline``."""
        return {
            "t_s": round(self.t_s, 2),
            "client_error_rate": self.client_error_rate,
            "client_p99_ms": self.client_p99_ms,
            "slo_ok": self.slo_ok,
            "target_health": self.target_health,
            "target_replicas": self.target_replicas,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class HealScore:
    """The scores of a heal run (seconds after the injection; None: did not happen)."""

    time_to_detect_s: float | None
    """The first tick with a non-noop decision."""
    time_to_mitigate_s: float | None
    """The first tick of the first held stretch of fixed ticks."""
    slo_violation_s: float
    """Time in ticks whose client SLO was violated (a tick covers the time since the last one)."""

    @property
    def recovered(self) -> bool:
        return self.time_to_mitigate_s is not None


def hold_ticks(hold_s: float, tick_s: float) -> int:
    """Ticks in a row that span at least ``hold_s`` at one tick every ``tick_s``."""
    return 1 + math.ceil(hold_s / tick_s - 1e-9)


def score_heal(samples: Sequence[HealSample], *, hold_ticks: int) -> HealScore:
    """Score the samples of a run, in tick order (see the module docstring)."""
    violation, last = 0.0, 0.0
    for s in samples:
        if not s.slo_ok:
            violation += s.t_s - last
        last = s.t_s
    detect = next((s.t_s for s in samples if s.acted), None)
    first = time_to_mitigate_steps([not s.fixed for s in samples], start=0, hold_steps=hold_ticks)
    return HealScore(
        time_to_detect_s=detect,
        time_to_mitigate_s=samples[first].t_s if first is not None else None,
        slo_violation_s=violation,
    )
