"""Faults of a dependency its callers feel: a cache down, a database fault, a delayed edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aither_wm.errors import ConfigError
from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.faults.base import Fault

if TYPE_CHECKING:
    from aither_wm.sim.dynamics import Modifiers
    from aither_wm.sim.mesh import MeshSimulator

__all__ = ["CacheDown", "DatabaseFault", "NetworkDelay"]


@dataclass(eq=False)
class CacheDown(Fault):
    """The cache process is wedged: it accepts connections and fails every request.

    Its liveness probe (a TCP check) passes, so the platform does not restart it. Hard callers
    fail within a step (their callers after them); soft callers fall back to the database, whose
    load rises with the misses (hit ratio 0). Restarting the cache fixes it; it comes back cold.
    Without a cache in the graph it falls back to a called service (see candidate_targets).
    """

    name = "cache_down"
    kinds = ("cache",)
    needs_caller = True

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        mods.wedged[self.index] = True

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        if action.type is ActionType.restart and action.target == self.target:
            self.is_active = False


@dataclass(eq=False)
class DatabaseFault(Fault):
    """The database fails a share of queries and answers slowly (lock contention, bad replica).

    Leading signal: errors and latency at its callers. Restarting the database fixes it;
    restarting its callers does nothing. Without a database it falls back to a called service.
    """

    name = "database_fault"
    kinds = ("database",)
    needs_caller = True
    error_rate: float = 0.6
    """Fraction of queries that fail."""
    latency_factor: float = 3.0
    """Latency multiplier of the queries (waits, not CPU)."""

    def __post_init__(self) -> None:
        self._check(error_rate=(0.0, 1.0), latency_factor=(1.0, 100.0))

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        mods.add_error(self.index, self.error_rate)
        mods.slow[self.index] *= self.latency_factor

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        if action.type is ActionType.restart and action.target == self.target:
            self.is_active = False


@dataclass(eq=False)
class NetworkDelay(Fault):
    """Network delay on the edge ``caller -> target`` for ``duration_steps`` steps.

    The caller's attempts time out (latency beyond its timeout is an error), its connection pools
    fill while its CPU idles, and the callee looks healthy. Nothing in the action set removes a
    network fault: it clears when its duration ends. With no caller (``caller=None`` and the
    target has none), the delay sits in front of the target (ingress).
    """

    name = "network_delay"
    kinds = ("service", "database", "cache", "queue", "gateway")
    needs_caller = True
    caller: str | None = None
    """The delayed edge's caller; None picks the target's first hard caller (graph order)."""
    delay_ms: float = 1500.0
    """Delay added to every attempt on the edge, milliseconds."""
    duration_steps: int = 20
    """Steps until the fault is removed."""
    _edge: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self._check(delay_ms=(0.0, 1e6), duration_steps=(1, 10**9))

    def on_inject(self, sim: MeshSimulator) -> None:
        graph = sim.graph
        callers = graph.callers(self.target)
        if self.caller is None and callers:
            hard = [
                c for c in callers if graph.digraph.edges[c, self.target]["dependency"] == "hard"
            ]
            self.caller = min(hard or callers, key=graph.index)
        if self.caller is not None:
            if self.caller not in callers:
                raise ConfigError(
                    f"network_delay: {self.caller!r} does not call {self.target!r} "
                    f"(callers: {sorted(callers)[:5]})"
                )
            self._edge = sim.topology.edge_index(self.caller, self.target)

    @property
    def acts_on(self) -> frozenset[str]:
        return frozenset({self.target} | ({self.caller} if self.caller else set()))

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        if self._edge >= 0:
            mods.delay_ms[self._edge] += self.delay_ms
        else:
            mods.ingress_ms[self.index] += self.delay_ms

    def after_step(self, sim: MeshSimulator) -> None:
        if self.steps_since_onset(sim) >= self.duration_steps:
            self.is_active = False
