"""The fault -> remedy table: the ground truth a simulator, an oracle and a scorer share.

For each fault, the effect of each action type when it is applied to the fault's target (for
``network_delay``: to either end of the delayed edge). Actions on other services have
``no_effect`` on the fault (``false_positive`` for a self-healing fault). Beyond the table, the
simulator labels ``harmful`` any action that does not fix the fault and takes capacity from a
service at >= 85 % utilisation or saturates it (restart, rollback, scale_in), and
``false_positive`` any action taken with no fault active. ``noop`` is a
first-class action: ``fixes`` marks the faults the platform heals by itself.

Mapping of real remedies onto the fixed action set (noop, restart, scale_out, scale_in,
rollback), where domain.md names a remedy outside it:

* disk_full: the real fix is a clean-up or a bigger volume (a config action). Here the volume is
  the pod's ephemeral log/temp storage (emptyDir), which a restart recreates empty, so restart
  is the remedy. (On a persistent volume restart would not help; domain.md's row.)
* network_delay: the real fix is removing the fault (the network owner's job); nothing in the
  action set does it, so the remedy is noop (escalate and wait) and it clears when its
  ``duration_steps`` end.
* retry_storm: "shed load, then add capacity": scale_out of the overloaded target; the storm
  breaks once the new replica is warm.
* memory_leak: restart frees memory until the leak fills it again (the label stays); rollback
  removes a leak a release brought.
* gpu_memory_pressure: restart of the serving process (temporary: the pressure creeps back).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from aither_wm.errors import ConfigError
from aither_wm.graph.state import ActionType

__all__ = ["EFFECTS", "REMEDIES", "Effect", "Remedy", "remedy_for"]

Effect = Literal["fixes", "no_effect", "harmful", "false_positive", "noop"]
#: Every effect label, in the order used to combine several faults (first wins).
EFFECTS: tuple[Effect, ...] = ("harmful", "fixes", "false_positive", "no_effect", "noop")

_N, _R, _O, _I, _B = (
    ActionType.noop,
    ActionType.restart,
    ActionType.scale_out,
    ActionType.scale_in,
    ActionType.rollback,
)


@dataclass(frozen=True)
class Remedy:
    """One row of the table.

    Attributes:
        fault: the fault's name.
        remedy: the action type that works best (noop where waiting is right), on the target.
        effects: effect of each action type applied to the target.
        leading_signal: what shows first.
        note: how the remedy maps to the real-world one.
    """

    fault: str
    remedy: ActionType
    effects: MappingProxyType[ActionType, Effect]
    leading_signal: str
    note: str

    def effect(self, action_type: ActionType) -> Effect:
        return self.effects[action_type]

    def actions(self, effect: Effect) -> tuple[ActionType, ...]:
        """Action types with ``effect`` on the target."""
        return tuple(t for t, e in self.effects.items() if e == effect)


def _row(
    fault: str, remedy: ActionType, effects: dict[ActionType, Effect], signal: str, note: str
) -> Remedy:
    assert set(effects) == set(ActionType), fault
    return Remedy(fault, remedy, MappingProxyType(effects), signal, note)


REMEDIES: MappingProxyType[str, Remedy] = MappingProxyType({
    "memory_leak": _row(
        "memory_leak", _R,
        {_N: "no_effect", _R: "fixes", _O: "no_effect", _I: "no_effect", _B: "fixes"},
        "memory ramps, latency creeps (GC) before the OOM kill",
        "restart frees memory until the next OOM; rollback removes a leak its release brought",
    ),
    "cpu_saturation": _row(
        "cpu_saturation", _O,
        {_N: "no_effect", _R: "harmful", _O: "fixes", _I: "harmful", _B: "harmful"},
        "CPU at its limit, p99 knee, liveness failures",
        "scale out; restart/rollback/scale in remove capacity and can cascade",
    ),
    "bad_deploy": _row(
        "bad_deploy", _B,
        {_N: "no_effect", _R: "no_effect", _O: "no_effect", _I: "no_effect", _B: "fixes"},
        "error-rate step at a rollout (version changed)",
        "rollback; restart runs the same image, scaling adds more of it",
    ),
    "cache_down": _row(
        "cache_down", _R,
        {_N: "no_effect", _R: "fixes", _O: "no_effect", _I: "no_effect", _B: "no_effect"},
        "callers' connection errors within a step, cache CPU idle, database load up",
        "restart the cache (it comes back cold: the database takes the misses while it warms)",
    ),
    "database_fault": _row(
        "database_fault", _R,
        {_N: "no_effect", _R: "fixes", _O: "no_effect", _I: "no_effect", _B: "no_effect"},
        "errors and latency at the database's callers",
        "restart the database; restarting its callers does nothing",
    ),
    "disk_full": _row(
        "disk_full", _R,
        {_N: "no_effect", _R: "fixes", _O: "no_effect", _I: "no_effect", _B: "no_effect"},
        "disk ramps to 100 %, then write errors",
        "clean-up mapped to restart: the full volume is ephemeral (emptyDir), recreated empty",
    ),
    "network_delay": _row(
        "network_delay", _N,
        {_N: "no_effect", _R: "no_effect", _O: "no_effect", _I: "no_effect", _B: "no_effect"},
        "caller latency and timeouts; the callee looks healthy",
        "removing it is outside the action set: noop and escalate; it clears after its duration",
    ),
    "pod_kill": _row(
        "pod_kill", _N,
        {_N: "fixes", _R: "false_positive", _O: "false_positive", _I: "false_positive",
         _B: "false_positive"},
        "brief errors, one replica missing, restart count + 1",
        "the platform replaces the pod; any action is a false positive",
    ),
    "gpu_memory_pressure": _row(
        "gpu_memory_pressure", _R,
        {_N: "no_effect", _R: "fixes", _O: "no_effect", _I: "no_effect", _B: "no_effect"},
        "GPU memory creeps, then OOM errors on large batches",
        "restart the serving process (temporary); CPU-based scaling does nothing",
    ),
    "retry_storm": _row(
        "retry_storm", _O,
        {_N: "no_effect", _R: "harmful", _O: "fixes", _I: "harmful", _B: "no_effect"},
        "goodput down while load up; persists after its trigger",
        "shed load, then add capacity: scale out; the storm breaks once the replica is warm",
    ),
})  # fmt: skip


def remedy_for(fault_name: str) -> ActionType:
    """The action type that remedies ``fault_name`` (applied to the fault's target)."""
    try:
        return REMEDIES[fault_name].remedy
    except KeyError:
        raise ConfigError(
            f"unknown fault {fault_name!r}; expected one of {', '.join(REMEDIES)}"
        ) from None
