"""Violation-of-expectation detector: surprise against a running robust baseline.

Per step the caller gives a surprise value (how far the observed next latent landed from the
predicted one; see :mod:`aither_wm.anomaly.surprise`). The detector works on ``log(surprise)``
(surprise is a squared distance: skewed; its log is close to symmetric), keeps a rolling window
of recent nominal values, and scores each step with a robust z-score::

    z = (log s - median(window)) / (1.4826 * MAD(window))

* warm-up: no verdict until ``warmup_steps`` values are in the window;
* levels: ``warning`` at z >= 3, ``critical`` at z >= 5 (the seed's 3-sigma / 5-sigma);
* hysteresis: an incident opens at the warning level and stays open until z < ``clear_z`` for
  ``clear_steps`` consecutive steps; escalation to critical inside an incident is one more event;
* cooldown: after an incident closes, no new one opens for ``cooldown_steps`` steps;
* the baseline is only updated with values seen outside incidents, so an incident does not
  teach the detector that trouble is normal.

Subscribers (callables) receive every :class:`AnomalyEvent`; the autoheal controller subscribes
and plans on a warning. Pure Python: no torch, no I/O.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field

from aither_wm.config import FrozenConfig

__all__ = ["AnomalyEvent", "DetectorConfig", "SurpriseDetector", "Verdict"]

Level = Literal["normal", "warning", "critical"]


class DetectorConfig(FrozenConfig):
    """Thresholds and memory of the violation-of-expectation detector."""

    window: int = Field(default=240, ge=8)
    """Nominal log-surprise values kept for the baseline (rolling)."""
    warmup_steps: int = Field(default=30, ge=4)
    """Values needed before any verdict."""
    warning_z: float = Field(default=3.0, gt=0)
    """Robust z-score that opens an incident (3 sigma: 0.135% one-sided under normality)."""
    critical_z: float = Field(default=5.0, gt=0)
    """Robust z-score of a critical incident."""
    open_steps: int = Field(default=2, ge=1)
    """Consecutive steps at warning level or above needed to open an incident (persistence:
    an isolated spike of an autocorrelated score does not page anyone)."""
    clear_z: float = Field(default=2.0, ge=0)
    """An open incident closes after ``clear_steps`` steps below this z-score."""
    clear_steps: int = Field(default=3, ge=1)
    """Consecutive calm steps needed to close an incident."""
    cooldown_steps: int = Field(default=5, ge=0)
    """Steps after a close during which no new incident opens."""
    min_scale: float = Field(default=1e-3, gt=0)
    """Floor of the robust scale (log units), so a perfectly flat baseline cannot divide by 0."""


@dataclass(frozen=True)
class AnomalyEvent:
    """An incident opening, escalating, or closing.

    Attributes:
        kind: "open", "escalate" or "close".
        level: level at that moment ("warning" or "critical"; the peak level for "close").
        incident: incident number (1, 2, ...).
        step: step index of the event.
        z: robust z-score at that step.
        surprise: the surprise value at that step.
        attribution: optional per-service scores, largest first (filled by the caller).
    """

    kind: Literal["open", "escalate", "close"]
    level: Level
    incident: int
    step: int
    z: float
    surprise: float
    attribution: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The detector's answer for one step (``z`` is NaN during warm-up)."""

    step: int
    z: float
    level: Level
    in_incident: bool
    events: tuple[AnomalyEvent, ...] = ()


@dataclass
class SurpriseDetector:
    """Stateful detector; feed one surprise per step with :meth:`update`."""

    config: DetectorConfig = field(default_factory=DetectorConfig)
    _window: deque[float] = field(init=False)
    _subscribers: list[Callable[[AnomalyEvent], None]] = field(default_factory=list, init=False)
    _step: int = field(default=0, init=False)
    _incident: int = field(default=0, init=False)
    _open_level: Level | None = field(default=None, init=False)
    _calm: int = field(default=0, init=False)
    _cooldown: int = field(default=0, init=False)
    _hot: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._window = deque(maxlen=self.config.window)

    def subscribe(self, callback: Callable[[AnomalyEvent], None]) -> None:
        """Call ``callback(event)`` on every event."""
        self._subscribers.append(callback)

    @property
    def in_incident(self) -> bool:
        return self._open_level is not None

    def zscore(self, surprise: float) -> float:
        """Robust z-score of ``surprise`` against the current baseline (NaN in warm-up)."""
        if len(self._window) < self.config.warmup_steps:
            return math.nan
        vals = list(self._window)
        med = statistics.median(vals)
        mad = statistics.median(abs(v - med) for v in vals)
        scale = max(1.4826 * mad, self.config.min_scale)
        return (math.log(max(surprise, 1e-12)) - med) / scale

    def update(
        self, surprise: float, *, attribution: tuple[tuple[str, float], ...] = ()
    ) -> Verdict:
        """Score one step's surprise (finite, >= 0), emit events, and update the baseline."""
        if not math.isfinite(surprise) or surprise < 0:
            raise ValueError(f"surprise must be a finite value >= 0, got {surprise!r}")
        cfg, step = self.config, self._step
        self._step += 1
        z = self.zscore(surprise)
        level: Level = "normal"
        if not math.isnan(z):
            level = (
                "critical" if z >= cfg.critical_z else "warning" if z >= cfg.warning_z else "normal"
            )
        events: list[AnomalyEvent] = []

        def emit(kind: Literal["open", "escalate", "close"], lvl: Level) -> None:
            events.append(AnomalyEvent(kind, lvl, self._incident, step, z, surprise, attribution))

        self._hot = self._hot + 1 if level != "normal" else 0
        if self._open_level is None:
            if self._cooldown > 0:
                self._cooldown -= 1
            elif self._hot >= cfg.open_steps:
                self._incident += 1
                self._open_level, self._calm = level, 0
                emit("open", level)
        else:
            if level == "critical" and self._open_level == "warning":
                self._open_level = "critical"
                emit("escalate", "critical")
            self._calm = self._calm + 1 if (not math.isnan(z) and z < cfg.clear_z) else 0
            if self._calm >= cfg.clear_steps:
                emit("close", self._open_level)
                self._open_level, self._cooldown = None, cfg.cooldown_steps
        if self._open_level is None and level == "normal":
            self._window.append(math.log(max(surprise, 1e-12)))
        for ev in events:
            for cb in self._subscribers:
                cb(ev)
        return Verdict(
            step=step, z=z, level=level, in_incident=self.in_incident, events=tuple(events)
        )
