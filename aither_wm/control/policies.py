"""Rule-based policies: the reactive baseline and the controller's last-resort fallback.

:class:`ReactivePolicy` does what an on-call runbook does, one action per step: find services that
look broken, guess the root cause (the most downstream broken service: errors travel to callers),
and apply the textbook remedy:

=====================================================  ============
symptom                                                remedy
=====================================================  ============
down, or memory at ``memory_high`` or above            restart
CPU at ``cpu_high`` or above (and room to grow)         scale_out
error rate at ``error_high`` or above, with a previous  rollback
release
error rate at ``error_high`` or above, no previous      restart
release
CPU below ``cpu_low`` with more than the minimum        scale_in
replicas (only when ``use_scale_in``)
=====================================================  ============

It looks at one state only; it has no model and never predicts.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from pydantic import Field

from aither_wm.config import FrozenConfig
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType, MeshState, ServiceState

__all__ = ["NoopPolicy", "Policy", "ReactiveConfig", "ReactivePolicy"]


@runtime_checkable
class Policy(Protocol):
    """Decides one action from the current state (no model)."""

    name: str

    def decide(self, graph: ServiceGraph, state: MeshState) -> Action: ...


class ReactiveConfig(FrozenConfig):
    """Thresholds of :class:`ReactivePolicy`."""

    error_high: float = Field(default=0.05, ge=0.0, le=1.0)
    """Error rate at or above which a service is treated as failing."""
    memory_high: float = Field(default=0.9, ge=0.0, le=1.0)
    """Memory use at or above which a service is restarted (before the OOM kill)."""
    cpu_high: float = Field(default=0.85, ge=0.0, le=1.0)
    """CPU use at or above which a service is scaled out."""
    cpu_low: float = Field(default=0.1, ge=0.0, le=1.0)
    """CPU use below which a service may be scaled in (see ``use_scale_in``)."""
    use_scale_in: bool = False
    """Scale in idle services (off: a runbook does not shrink during an incident)."""
    min_replicas: int = Field(default=1, ge=0)
    """Never scale in at or below this many replicas."""
    max_replicas: int = Field(default=10, ge=1)
    """Never scale out at or above this many replicas."""


class ReactivePolicy:
    """The runbook policy (see the module docstring)."""

    name = "reactive"

    def __init__(self, config: ReactiveConfig | None = None) -> None:
        self.config = config or ReactiveConfig()

    def remedy(self, s: ServiceState) -> tuple[float, ActionType] | None:
        """(severity, remedy) for one service, or None when it looks fine."""
        c = self.config
        if s.health == "down" or s.replicas == 0:
            return 4.0, ActionType.restart
        if s.memory_util >= c.memory_high:
            return 3.0 + s.memory_util, ActionType.restart
        if s.cpu_util >= c.cpu_high and s.replicas < c.max_replicas:
            # saturated: its errors are timeouts; restarting would take capacity away
            return 2.0 + s.cpu_util, ActionType.scale_out
        if s.error_rate >= c.error_high:
            kind = ActionType.rollback if s.previous_version is not None else ActionType.restart
            return 2.0 + s.error_rate, kind
        if c.use_scale_in and s.cpu_util < c.cpu_low and s.replicas > max(1, c.min_replicas):
            return 0.5, ActionType.scale_in
        return None

    def candidates(
        self, graph: ServiceGraph, state: MeshState
    ) -> list[tuple[float, float, Action]]:
        """(severity, depth, action) of every service that looks broken, best first.

        A deeper service (further from the entry points) wins ties in severity class: its
        callers' errors are more likely its own errors propagated upstream.
        """
        state.check_graph(graph)
        space = ActionSpace(graph, self.config.min_replicas, self.config.max_replicas)
        mask = space.mask(state)
        depth = graph.depths()
        out = []
        for name in graph.services:
            found = self.remedy(state.services[name])
            if found is None:
                continue
            severity, kind = found
            action = Action(type=kind, target=name)
            if not bool(mask[space.index(action)]):
                continue
            d = depth[name] if math.isfinite(depth[name]) else 0.0
            out.append((math.floor(severity), d, severity, action))
        out.sort(key=lambda r: (r[0], r[1], r[2]), reverse=True)
        return [(sev, d, a) for _, d, sev, a in out]

    def decide(self, graph: ServiceGraph, state: MeshState) -> Action:
        """The remedy for the most likely root cause, or no-op when nothing looks broken."""
        found = self.candidates(graph, state)
        return found[0][2] if found else Action.noop()


class NoopPolicy:
    """Never acts (the do-nothing baseline)."""

    name = "noop"

    def decide(self, graph: ServiceGraph, state: MeshState) -> Action:
        return Action.noop()
