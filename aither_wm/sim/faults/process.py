"""Faults inside one service's process: leak, GPU memory pressure, full disk, bad release."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.faults.base import Fault

if TYPE_CHECKING:
    from aither_wm.sim.dynamics import Modifiers
    from aither_wm.sim.mesh import MeshSimulator

__all__ = ["BadDeploy", "DiskFull", "GpuMemoryPressure", "MemoryLeak"]


@dataclass(eq=False)
class MemoryLeak(Fault):
    """Resident memory grows each step; GC slows the service; at the limit it is OOM-killed.

    Leading signal: memory ramps and latency creeps before the OOM kill (then brief errors and a
    restart, and it leaks again). Restart frees the memory until it fills again; rollback
    removes the leak when a release brought it (``from_release``, the default).
    """

    name = "memory_leak"
    rate_per_step: float = 0.025
    """Memory growth per step, as a fraction of the limit."""
    from_release: bool = True
    """The leak came with a new release (injection bumps the version; rollback removes it)."""
    _release: int = field(init=False, default=-1)
    _restarts: int = field(init=False, default=0)
    _last_oom: int = field(init=False, default=-(10**9))

    def __post_init__(self) -> None:
        self._check(rate_per_step=(1e-4, 1.0))

    def on_inject(self, sim: MeshSimulator) -> None:
        self._restarts = int(sim.dyn.restarts[self.index])
        if self.from_release:
            self._release = self._new_release(sim)

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        dyn = sim.dyn
        dyn.mem[self.index] = min(1.0, dyn.mem[self.index] + self.rate_per_step)

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        rolled_back = action.type is ActionType.rollback and action.target == self.target
        if rolled_back and self.from_release and sim.dyn.version[self.index] != self._release:
            self.is_active = False

    def after_step(self, sim: MeshSimulator) -> None:
        restarts = int(sim.dyn.restarts[self.index])
        if restarts > self._restarts:  # the platform killed it (OOM, or a failed liveness check)
            self._last_oom = sim.step_count
        self._restarts = restarts

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        """Memory above 80 %, or killed out of memory within the last 5 steps."""
        recent_oom = sim.step_count - self._last_oom < 5
        return self.is_active and (sim.dyn.mem[self.index] > 0.8 or recent_oom)


@dataclass(eq=False)
class GpuMemoryPressure(Fault):
    """GPU memory of a serving process creeps up; above a threshold large batches fail (OOM).

    Restart of the serving process resets GPU memory (temporarily: it creeps back).
    """

    name = "gpu_memory_pressure"
    creep_per_step: float = 0.02
    """GPU memory growth per step, as a fraction of the device."""
    start_util: float = 0.6
    """GPU memory of a freshly started serving process."""
    oom_threshold: float = 0.9
    """Above this GPU memory, large batches fail with out-of-memory errors."""

    def __post_init__(self) -> None:
        self._check(creep_per_step=(1e-4, 1.0), start_util=(0.0, 1.0), oom_threshold=(0.0, 1.0))

    def on_inject(self, sim: MeshSimulator) -> None:
        dyn = sim.dyn
        dyn.gpu_base[self.index] = self.start_util
        dyn.gpu[self.index] = max(dyn.gpu[self.index], self.start_util)

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        dyn, i = sim.dyn, self.index
        dyn.gpu[i] = min(1.0, dyn.gpu[i] + self.creep_per_step)
        over = dyn.gpu[i] - self.oom_threshold
        if over > 0.0:
            mods.add_error(i, min(0.9, 8.0 * over))
            mods.slow[i] *= 1.0 + 3.0 * over

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        return self.is_active and sim.dyn.gpu[self.index] > self.oom_threshold


@dataclass(eq=False)
class DiskFull(Fault):
    """The service's ephemeral (log/temp) volume fills; once full, writes fail.

    Leading signal: disk ramps to 100 %, then write errors. A restart recreates the volume empty
    (the remedy table's mapping of "clean up").
    """

    name = "disk_full"
    kinds = ("database", "queue")
    fill_per_step: float = 0.08
    """Disk growth per step, as a fraction of the volume."""
    write_error_rate: float = 0.5
    """Fraction of requests that fail once the disk is full."""

    def __post_init__(self) -> None:
        self._check(fill_per_step=(1e-4, 1.0), write_error_rate=(0.0, 1.0))

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        dyn, i = sim.dyn, self.index
        dyn.disk[i] = min(1.0, dyn.disk[i] + self.fill_per_step)
        if dyn.disk[i] >= 0.97:
            mods.add_error(i, self.write_error_rate)
            mods.slow[i] *= 1.5

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        if action.type is ActionType.restart and action.target == self.target:
            self.is_active = False

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        return self.is_active and sim.dyn.disk[self.index] > 0.9


@dataclass(eq=False)
class BadDeploy(Fault):
    """A new release that fails a share of requests and is slower: an error-rate step at rollout.

    Injection bumps the version (so rollback is valid); rollback is the only remedy.
    """

    name = "bad_deploy"
    error_rate: float = 0.4
    """Fraction of requests the bad release fails."""
    latency_factor: float = 1.3
    """Latency multiplier of the bad release."""
    _release: int = field(init=False, default=-1)

    def __post_init__(self) -> None:
        self._check(error_rate=(0.0, 1.0), latency_factor=(1.0, 100.0))

    def on_inject(self, sim: MeshSimulator) -> None:
        self._release = self._new_release(sim)

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        if sim.dyn.version[self.index] == self._release:
            mods.add_error(self.index, self.error_rate)
            mods.slow[self.index] *= self.latency_factor

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        if action.type is ActionType.rollback and action.target == self.target:
            self.is_active = sim.dyn.version[self.index] == self._release
