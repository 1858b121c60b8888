"""The safety guard: the last word on every action, whoever proposed it.

No planner, policy or fallback reaches the executor except through :meth:`SafetyGuard.admit`. The
guard refuses an action when any rule fails:

* type: its type is not in ``allowed_types`` (no-op is always allowed and never counted);
* protected: its target is in ``protected_services``;
* cooldown: the same service was acted on fewer than ``cooldown_steps`` steps ago;
* rate: ``max_actions_per_window`` actions were already admitted in the last ``window_steps``;
* blast radius: admitting it would touch more than ``max_service_fraction`` of the services
  (at least one) within the window.

Time is the mesh's step counter (``MeshState.step``), so a verdict is reproducible. In dry-run
mode admitted actions are still recorded as if executed (the audit shows what would have
happened, and cooldowns stop a dry run from proposing the same restart every step).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field, field_validator

from aither_wm.config import FrozenConfig
from aither_wm.graph.state import Action, ActionType

__all__ = ["GuardConfig", "GuardVerdict", "SafetyGuard"]

_TARGETED = ("restart", "scale_out", "scale_in", "rollback")


class GuardConfig(FrozenConfig):
    """Limits the safety guard enforces."""

    allowed_types: tuple[str, ...] = _TARGETED
    """Action types that may be executed (noop is always allowed)."""
    protected_services: tuple[str, ...] = ()
    """Services no action may target (e.g. a database the host manages by hand)."""
    cooldown_steps: int = Field(default=4, ge=0)
    """Steps after an action on a service before another action on it is allowed."""
    window_steps: int = Field(default=20, ge=1)
    """Length of the sliding window of the rate and blast-radius limits, in steps."""
    max_actions_per_window: int = Field(default=4, ge=0)
    """At most this many (non-noop) actions within any window."""
    max_service_fraction: float = Field(default=0.25, gt=0.0, le=1.0)
    """At most this fraction of the services (rounded down, at least 1) touched within a window."""
    dry_run: bool = True
    """Decide and audit, execute nothing. On by default: a host must opt in to acting."""

    @field_validator("allowed_types")
    @classmethod
    def _known_types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = sorted(set(v) - set(_TARGETED))
        if bad:
            raise ValueError(f"unknown action types {bad}; expected some of {_TARGETED}")
        return v


@dataclass(frozen=True)
class GuardVerdict:
    """The guard's answer for one action.

    Attributes:
        allowed: True when every rule passed.
        action: the action judged.
        reasons: why it was refused (empty when allowed).
        step: the step it was judged at.
    """

    allowed: bool
    action: Action
    reasons: tuple[str, ...]
    step: int

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "action": str(self.action),
            "reasons": list(self.reasons),
            "step": self.step,
        }


class SafetyGuard:
    """Enforces :class:`GuardConfig` over a stream of actions.

    Args:
        config: the limits.
        num_services: N, the size of the mesh (for the blast-radius limit).
    """

    def __init__(self, config: GuardConfig, *, num_services: int) -> None:
        if num_services < 1:
            raise ValueError(f"num_services must be >= 1, got {num_services}")
        self.config = config
        self.num_services = num_services
        self._history: deque[tuple[int, str]] = deque()  # (step, target) of admitted actions
        self._last_on: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def max_services_per_window(self) -> int:
        return max(1, math.floor(self.config.max_service_fraction * self.num_services + 1e-9))

    def check(self, action: Action, step: int) -> GuardVerdict:
        """Judge ``action`` at ``step`` without recording it."""
        with self._lock:
            return self._check(action, step)

    def refused(self, actions: Sequence[Action], step: int) -> list[int]:
        """Positions in ``actions`` the guard would refuse at ``step`` (nothing recorded): what a
        planner's mask should leave out, so its plan is not refused after the fact."""
        with self._lock:
            return [i for i, a in enumerate(actions) if not self._check(a, step).allowed]

    def admit(self, action: Action, step: int) -> GuardVerdict:
        """Judge ``action`` and, when allowed, record it (the only way to reach the executor)."""
        with self._lock:
            verdict = self._check(action, step)
            if verdict.allowed and action.type is not ActionType.noop:
                assert action.target is not None
                self._history.append((step, action.target))
                self._last_on[action.target] = step
            return verdict

    def _check(self, action: Action, step: int) -> GuardVerdict:
        cfg = self.config
        if action.type is ActionType.noop:
            return GuardVerdict(True, action, (), step)
        target = action.target
        assert target is not None
        while self._history and self._history[0][0] <= step - cfg.window_steps:
            self._history.popleft()
        reasons: list[str] = []
        if action.type.value not in cfg.allowed_types:
            reasons.append(
                f"type {action.type.value!r} is not allowed (allowed: {list(cfg.allowed_types)})"
            )
        if target in cfg.protected_services:
            reasons.append(f"service {target!r} is protected")
        last = self._last_on.get(target)
        if last is not None and step - last < cfg.cooldown_steps:
            reasons.append(
                f"cooldown: {target!r} was acted on at step {last}, "
                f"{cfg.cooldown_steps - (step - last)} more step(s) to wait"
            )
        if len(self._history) >= cfg.max_actions_per_window:
            reasons.append(
                f"rate: {len(self._history)} action(s) in the last {cfg.window_steps} steps "
                f"(limit {cfg.max_actions_per_window})"
            )
        touched = {t for _, t in self._history}
        if target not in touched and len(touched) + 1 > self.max_services_per_window:
            reasons.append(
                f"blast radius: {len(touched)} service(s) already touched in the window, limit "
                f"{self.max_services_per_window} of {self.num_services} "
                f"({cfg.max_service_fraction:.0%})"
            )
        return GuardVerdict(not reasons, action, tuple(reasons), step)

    def state(self) -> dict[str, object]:
        """Plain summary (for health checks): actions in the window and services touched."""
        with self._lock:
            return {
                "actions_in_window": len(self._history),
                "services_in_window": sorted({t for _, t in self._history}),
                "dry_run": self.config.dry_run,
            }
