"""The simulator behind the state-source and executor interfaces.

``observe()`` advances the simulated mesh one step under the action queued since the previous
observation (no-op when none), injecting the scheduled and random faults due, and returns the
new state; the first call returns the state at reset. ``SimExecutor.execute(action)`` queues
``action`` for the next step, which is how a real actuator behaves: the effect shows up in the
next scrape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from aither_wm.graph import Action, MeshState, ServiceGraph
from aither_wm.sim import MeshSimulator, SimConfig, StepResult
from aither_wm.sim.faults import FAULT_NAMES, pick_fault

__all__ = ["SimExecutor", "SimStateSource"]


class SimStateSource:
    """A simulated mesh as a state source.

    Args:
        graph: the mesh.
        seed: simulator seed (mesh constants and the random stream).
        sim: :class:`~aither_wm.sim.SimConfig` fields.
        faults: scheduled faults, each ``{"at": step, "fault": name, "target": service}``
            (``target`` omitted: a sensible one is drawn).
        fault_rate: probability per step of a random fault when none is active (0: none).
        fault_names: the faults random injection draws from (default: all).
    """

    def __init__(
        self,
        graph: ServiceGraph,
        *,
        seed: int = 0,
        sim: Mapping[str, Any] | None = None,
        faults: Sequence[Mapping[str, Any]] = (),
        fault_rate: float = 0.0,
        fault_names: Sequence[str] | None = None,
    ) -> None:
        self.graph = graph
        self.sim = MeshSimulator(graph, SimConfig(**dict(sim or {})), seed=seed)
        self.sim.reset(seed=seed)
        self._rng = np.random.default_rng(seed + 1)
        self._schedule = sorted((dict(f) for f in faults), key=lambda f: int(f["at"]))
        self.fault_rate = float(fault_rate)
        self.fault_names = tuple(fault_names or FAULT_NAMES)
        self._queued: Action | None = None
        self._started = False
        self.last: StepResult | None = None
        self.injected: list[tuple[int, str]] = []

    def queue(self, action: Action) -> None:
        """Apply ``action`` at the next step."""
        self._queued = action

    def observe(self) -> MeshState:
        if not self._started:
            self._started = True
            return self.sim.observe()
        step = self.sim.step_count
        while self._schedule and int(self._schedule[0]["at"]) <= step:
            f = self._schedule.pop(0)
            fault = (
                self.sim.inject(f["fault"], target=f["target"])
                if f.get("target")
                else self.sim.inject(pick_fault(f["fault"], self.graph, self._rng))
            )
            self.injected.append((step, fault.label))
        if (
            self.fault_rate > 0
            and not self.sim.active_faults
            and self._rng.random() < self.fault_rate
        ):
            fault = self.sim.inject(
                pick_fault(str(self._rng.choice(self.fault_names)), self.graph, self._rng)
            )
            self.injected.append((step, fault.label))
        action, self._queued = self._queued or Action.noop(), None
        if not self.sim.action_mask()[self.sim.action_space.index(action)]:
            action = Action.noop()  # e.g. scale_out at the replica limit: nothing happens
        self.last = self.sim.step(action)
        return self.last.state

    def fault_labels(self) -> tuple[str, ...]:
        return self.sim.fault_labels

    def executor(self) -> SimExecutor:
        """The executor acting on this simulated mesh."""
        return SimExecutor(self)


class SimExecutor:
    """Queues actions on a :class:`SimStateSource` (applied at its next ``observe``)."""

    def __init__(self, source: SimStateSource) -> None:
        if not isinstance(source, SimStateSource):
            raise TypeError(f"SimExecutor acts on a SimStateSource, got {type(source).__name__}")
        self.source = source

    def execute(self, action: Action) -> None:
        self.source.queue(action)
