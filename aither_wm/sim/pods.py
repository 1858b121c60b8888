"""Replica lifecycle: warm-up, crashes with back-off, health checks, and the actions' true effects.

Glossary: N services, W warm-up steps, H back-off slots.

* A crashed replica waits out its back-off (10 s doubling to 300 s per crash, reset after a calm
  spell), then warms up for ``warmup_steps`` before it serves.
* Liveness: a replica loaded beyond ``liveness_overload`` (its probe waits behind a full queue)
  fails its check; after ``health_check_failures`` consecutive
  failures the platform kills one replica, moving its load onto the rest (a cascade).
* Out of memory: a service whose memory reaches its limit crashes (all replicas leak alike).
* Actions: restart and rollback are rolling (half the ready replicas restart and warm up, the
  process state of every replica is fresh: memory, GPU memory, ephemeral disk, a cold cache);
  scale_out adds a warming replica; scale_in removes one.
"""

from __future__ import annotations

import math

import numpy as np

from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.config import SimConfig
from aither_wm.sim.dynamics import MeshDynamics, backoff_slots
from aither_wm.sim.topology import MeshTopology

__all__ = ["advance_pods", "apply_action", "crash", "health_checks"]


def advance_pods(dyn: MeshDynamics) -> None:
    """One step of warm-up and back-off timers."""
    dyn.ready = dyn.ready + dyn.warming[:, 0]
    back = dyn.restarting[:, 0].copy()
    dyn.warming = np.roll(dyn.warming, -1, axis=1)
    dyn.warming[:, -1] = 0
    dyn.restarting = np.roll(dyn.restarting, -1, axis=1)
    dyn.restarting[:, -1] = 0
    _start_warming(dyn, back)


def _start_warming(dyn: MeshDynamics, count: np.ndarray) -> None:
    if dyn.warming.shape[1] == 0:
        dyn.ready = dyn.ready + count
    else:
        dyn.warming[:, -1] += count


def crash(dyn: MeshDynamics, config: SimConfig, index: int, count: int) -> None:
    """``count`` ready replicas of service ``index`` crash and wait out the back-off."""
    count = min(int(count), int(dyn.ready[index]))
    if count <= 0:
        return
    slot = min(backoff_slots(dyn.backoff_s[index], config), dyn.restarting.shape[1]) - 1
    dyn.ready[index] -= count
    dyn.restarting[index, slot] += count
    dyn.backoff_s[index] = min(2.0 * dyn.backoff_s[index], config.max_backoff_s)
    dyn.restarts[index] += count
    dyn.calm_steps[index] = 0
    dyn.fail_count[index] = 0


def health_checks(topo: MeshTopology, config: SimConfig, dyn: MeshDynamics) -> None:
    """Liveness checks and OOM kills after this step's physics."""
    assert dyn.mods is not None
    live = dyn.ready > 0
    failing = live & ((dyn.rho > config.liveness_overload) | dyn.mods.liveness_fail)
    dyn.fail_count = np.where(failing, dyn.fail_count + 1, 0)
    dyn.calm_steps = dyn.calm_steps + 1
    for i in np.flatnonzero(dyn.fail_count >= config.health_check_failures):
        crash(dyn, config, int(i), 1)
    for i in np.flatnonzero(live & (dyn.mem >= 1.0)):
        crash(dyn, config, int(i), int(dyn.ready[i]))
        dyn.mem[i] = topo.mem_base[i]
    calm = dyn.calm_steps >= config.backoff_reset_steps
    dyn.backoff_s = np.where(calm, config.restart_backoff_s, dyn.backoff_s)


def _fresh_process(topo: MeshTopology, dyn: MeshDynamics, i: int) -> None:
    dyn.mem[i] = topo.mem_base[i]
    dyn.gpu[i] = dyn.gpu_base[i]
    dyn.disk[i] = topo.disk_base[i]
    dyn.fail_count[i] = 0
    if topo.is_kind("cache")[i]:
        dyn.hit[i] = 0.0


def _roll_pods(topo: MeshTopology, config: SimConfig, dyn: MeshDynamics, i: int) -> None:
    """Rolling replacement: half the ready replicas warm up again; crash-looping ones start now."""
    cycled = math.ceil(int(dyn.ready[i]) / 2)
    dyn.ready[i] -= cycled
    looping = int(dyn.restarting[i].sum())
    dyn.restarting[i] = 0
    one = np.zeros_like(dyn.ready)
    one[i] = cycled + looping
    _start_warming(dyn, one)
    dyn.backoff_s[i] = config.restart_backoff_s
    _fresh_process(topo, dyn, i)


def apply_action(topo: MeshTopology, config: SimConfig, dyn: MeshDynamics, action: Action) -> None:
    """The physical effect of a (valid) action on the pods and releases."""
    if action.type is ActionType.noop:
        return
    assert action.target is not None
    i = topo.graph.index(action.target)
    if action.type is ActionType.restart:
        _roll_pods(topo, config, dyn, i)
    elif action.type is ActionType.rollback:
        dyn.version[i] = dyn.prev_version[i]
        dyn.prev_version[i] = -1
        _roll_pods(topo, config, dyn, i)
    elif action.type is ActionType.scale_out:
        if dyn.desired[i] < config.max_replicas:
            dyn.desired[i] += 1
            one = np.zeros_like(dyn.ready)
            one[i] = 1
            _start_warming(dyn, one)
    elif action.type is ActionType.scale_in:
        dyn.desired[i] -= 1
        for pool in ("ready", "warming", "restarting"):
            arr = getattr(dyn, pool)
            if pool == "ready" and arr[i] > 0:
                arr[i] -= 1
                return
            if pool != "ready" and arr[i].sum() > 0:
                j = int(np.flatnonzero(arr[i])[-1])
                arr[i, j] -= 1
                return
