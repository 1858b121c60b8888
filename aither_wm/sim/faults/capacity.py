"""Faults of capacity and load: CPU saturation, a killed pod, a metastable retry storm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.faults.base import Fault
from aither_wm.sim.faults.remedies import Effect
from aither_wm.sim.pods import crash

if TYPE_CHECKING:
    from aither_wm.sim.dynamics import Modifiers
    from aither_wm.sim.mesh import MeshSimulator

__all__ = ["CpuSaturation", "PodKill", "RetryStorm"]


@dataclass(eq=False)
class CpuSaturation(Fault):
    """A load spike of CPU-heavy requests at the target (e.g. a scraper on an expensive endpoint).

    The extra requests are served by the target alone (they add no downstream calls) and push its
    utilisation to ``target_rho``: CPU at its limit, the p99 knee, queues, liveness failures.
    Scale-out absorbs it; restart removes capacity and can cascade.
    """

    name = "cpu_saturation"
    target_rho: float = 1.1
    """Utilisation of the target under the spike, at the replicas it had at injection."""
    duration_steps: int | None = None
    """Steps the spike lasts; None: the rest of the episode."""
    _extra_share: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._check(target_rho=(0.1, 10.0), duration_steps=(1, 10**9))

    def on_inject(self, sim: MeshSimulator) -> None:
        rho = max(float(sim.dyn.rho[self.index]), 0.05)
        self._extra_share = self.target_rho / rho - 1.0

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        if self.duration_steps is not None and self.steps_since_onset(sim) > self.duration_steps:
            self.is_active = False
            return
        nominal = sim.topology.nominal_rps[self.index] * sim.dyn.load.diurnal(sim.step_count)
        mods.local_rps[self.index] += self._extra_share * nominal

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        dyn = sim.dyn
        return self.is_active and (dyn.rho[self.index] > 0.85 or dyn.own_err[self.index] > 0.05)


@dataclass(eq=False)
class PodKill(Fault):
    """One replica of the target is killed; the platform replaces it (self-healing).

    Leading signal: brief errors (requests in flight on the pod), one replica missing, restart
    count + 1. Any action is a false positive.
    """

    name = "pod_kill"
    kinds = ("service", "gateway", "frontend", "cache", "database", "queue")
    _spike: float = field(init=False, default=0.0)

    def on_inject(self, sim: MeshSimulator) -> None:
        ready = int(sim.dyn.ready[self.index])
        self._spike = 0.5 / ready if ready > 0 else 0.0  # its share, until endpoints update
        crash(sim.dyn, sim.config, self.index, 1)

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        if self.steps_since_onset(sim) == 1 and self._spike > 0.0:
            mods.add_error(self.index, self._spike)

    def after_step(self, sim: MeshSimulator) -> None:
        dyn = sim.dyn
        if dyn.ready[self.index] >= dyn.desired[self.index]:
            self.is_active = False

    def effect_of(self, action: Action) -> Effect:
        return "noop" if action.type is ActionType.noop else "false_positive"


@dataclass(eq=False)
class RetryStorm(Fault):
    """A metastable retry storm: a brief trigger, then retries keep the target overloaded.

    The target's callers retry aggressively (no retry budget, ``attempts`` chosen so the retried
    load is ``storm_load`` x the target's capacity). A ``trigger_steps`` blip (all requests fail)
    starts it; afterwards retries of timed-out requests keep it saturated: goodput down while
    load is up, long after the trigger. It ends once the target's callers see < 5 % failed
    attempts for 3 steps: add capacity (scale out), and it breaks when the replica is warm.
    """

    name = "retry_storm"
    kinds = ("service", "database", "cache", "gateway")
    needs_caller = True
    storm_load: float = 1.2
    """Retried load on the target during the storm, as a multiple of its capacity."""
    trigger_steps: int = 3
    """Steps of the initial blip."""
    _attempts: float = field(init=False, default=1.0)
    _in_edges: np.ndarray = field(init=False, default_factory=lambda: np.zeros(0, dtype=np.int64))
    _calm: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._check(storm_load=(1.0, 10.0), trigger_steps=(1, 1000))

    def on_inject(self, sim: MeshSimulator) -> None:
        rho = max(float(sim.dyn.rho[self.index]), 0.05)
        self._attempts = float(np.clip(self.storm_load / rho, 2.0, 20.0))
        self._in_edges = np.flatnonzero(sim.topology.dst == self.index)

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        mods.attempts[self._in_edges] = self._attempts
        mods.budget[self._in_edges] = np.inf
        if self.steps_since_onset(sim) <= self.trigger_steps:
            mods.add_error(self.index, 1.0)

    def after_step(self, sim: MeshSimulator) -> None:
        if self.steps_since_onset(sim) <= self.trigger_steps:
            return
        dyn = sim.dyn
        if self._in_edges.size and dyn.calls is not None:
            failing = float(dyn.calls.f_edge[self._in_edges].max())
        else:
            failing = float(dyn.own_err[self.index])
        self._calm = self._calm + 1 if failing < 0.05 else 0
        if self._calm >= 3:
            self.is_active = False

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        return self.is_active and self._calm == 0
