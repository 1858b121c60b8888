"""Per-episode healing metrics, computed from what happened at each step.

An :class:`EpisodeRecord` is the plain trace of one policy in one scenario; :func:`score_record`
turns it into the numbers the report aggregates. Definitions (``dt`` = seconds per step):

* ``slo_violation_minutes``: steps with the entry-point SLO violated x dt / 60.
* ``availability``: mean entry-point availability (1 - error rate, weighted by external load).
* ``time_to_mitigate_s``: from the first SLO breach at or after the fault's onset to the first
  step of a run of ``hold_steps`` steps with the SLO met ("back under target and held"). An
  episode whose SLO is never met again is censored at its end (the value is then a lower bound,
  and ``mitigated`` is False). None when the SLO was never breached (nothing to mitigate) or the
  episode has no fault. Measured from the breach, not the onset: a slow fault (a leak) would
  otherwise count as "mitigated in 0 s" before it ever hurt.
* ``actions``: non-noop actions executed; ``wrong_actions``: those with ground-truth effect
  ``no_effect`` or ``false_positive``; ``harmful_actions``: effect ``harmful``;
  ``false_positive_actions``: effect ``false_positive`` (acting with no fault, or on a fault the
  platform heals by itself); ``fixes``: effect ``fixes``.
* ``lead_time_s``: first breach step minus first fixing action step, x dt (> 0: the fix came
  before the breach; None without both). ``prevented``: a fixing action and no breach at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aither_wm.errors import ConfigError

__all__ = ["METRICS", "EpisodeRecord", "score_record"]

#: Metric names :func:`score_record` returns that are averaged in reports (None values skipped).
METRICS: tuple[str, ...] = (
    "slo_violation_minutes",
    "availability",
    "time_to_mitigate_s",
    "mitigated",
    "actions",
    "wrong_actions",
    "harmful_actions",
    "wrong_or_harmful_actions",
    "false_positive_actions",
    "fixes",
)


@dataclass(frozen=True)
class EpisodeRecord:
    """What one policy did in one scenario, step by step.

    Attributes:
        policy: the policy's name.
        fault: the injected fault's name, or None for a fault-free episode.
        target: the fault's target service (None without a fault).
        replicate: the seed index the scenario belongs to (the unit of the confidence intervals).
        onset_step: step of injection (None without a fault).
        step_seconds: simulated seconds per step.
        violated: the SLO was violated over each step. [T]
        availability: entry-point availability over each step. [T]
        effects: ground-truth effect of each step's action ("noop", "fixes", ...). [T]
        actions: each step's action as text ("noop", "restart(cart)"). [T]
        decision_ms: wall time of each decision of the policy. [T]
        params: the fault's parameters (its intensity).
        graph: the graph's name.
    """

    policy: str
    fault: str | None
    target: str | None
    replicate: int
    onset_step: int | None
    step_seconds: float
    violated: tuple[bool, ...]
    availability: tuple[float, ...]
    effects: tuple[str, ...]
    actions: tuple[str, ...]
    decision_ms: tuple[float, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    graph: str = ""

    def __post_init__(self) -> None:
        T = len(self.violated)
        if not (len(self.availability) == len(self.effects) == len(self.actions) == T):
            raise ConfigError(
                f"per-step fields must have equal lengths, got violated {T}, availability "
                f"{len(self.availability)}, effects {len(self.effects)}, actions {len(self.actions)}"
            )
        if (self.fault is None) != (self.onset_step is None):
            raise ConfigError("onset_step is given exactly when there is a fault")

    @property
    def steps(self) -> int:
        return len(self.violated)


def _first_breach(violated: tuple[bool, ...], start: int) -> int | None:
    return next((t for t in range(start, len(violated)) if violated[t]), None)


def _recovery(violated: tuple[bool, ...], start: int, hold_steps: int) -> int | None:
    """First step of a run of ``hold_steps`` steps without violation, at or after ``start``."""
    run = 0
    for t in range(start, len(violated)):
        run = 0 if violated[t] else run + 1
        if run >= hold_steps:
            return t - hold_steps + 1
    return None


def score_record(record: EpisodeRecord, *, hold_steps: int = 4) -> dict[str, Any]:
    """The episode's metrics (see the module docstring); counts are ints, the rest floats."""
    if hold_steps < 1:
        raise ConfigError(f"hold_steps must be >= 1, got {hold_steps}")
    dt = record.step_seconds
    v = record.violated
    eff = record.effects
    acted = [e != "noop" for e in eff]
    breach = None if record.onset_step is None else _first_breach(v, record.onset_step)
    ttm: float | None = None
    mitigated: bool | None = None
    if breach is not None:
        back = _recovery(v, breach, hold_steps)
        mitigated = back is not None
        ttm = ((back if back is not None else len(v)) - breach) * dt
    first_fix = next((t for t, e in enumerate(eff) if e == "fixes"), None)
    lead = None if first_fix is None or breach is None else (breach - first_fix) * dt
    wrong = sum(e in ("no_effect", "false_positive") for e in eff)
    harmful = sum(e == "harmful" for e in eff)
    return {
        "slo_violation_minutes": sum(v) * dt / 60.0,
        "availability": sum(record.availability) / len(v) if v else 1.0,
        "time_to_mitigate_s": ttm,
        "mitigated": mitigated,
        "breached": breach is not None,
        "actions": sum(acted),
        "wrong_actions": wrong,
        "harmful_actions": harmful,
        "wrong_or_harmful_actions": wrong + harmful,
        "false_positive_actions": sum(e == "false_positive" for e in eff),
        "fixes": sum(e == "fixes" for e in eff),
        "lead_time_s": lead,
        "prevented": first_fix is not None and breach is None and record.fault is not None,
    }
