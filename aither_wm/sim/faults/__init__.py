"""The fault library: ten failure modes of a service mesh and the fault -> remedy table.

>>> from aither_wm.sim.faults import FAULTS, make_fault, remedy_for
>>> fault = make_fault("cache_down", "redis-cart")
>>> remedy_for("cache_down").value
'restart'

Targets by kind (``pick_fault`` chooses one with a seeded generator): cache_down on a cache,
database_fault on a database, disk_full on a database or queue, retry_storm / network_delay /
cache_down / database_fault on a service somebody calls, gpu_memory_pressure on a service (an
ML-sounding name first), the rest on services. A graph without the preferred kind falls back to
any reachable service (see :func:`~aither_wm.sim.faults.base.candidate_targets`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import numpy as np

from aither_wm.errors import ConfigError
from aither_wm.graph.schema import ServiceGraph
from aither_wm.sim.faults.base import Fault, candidate_targets
from aither_wm.sim.faults.capacity import CpuSaturation, PodKill, RetryStorm
from aither_wm.sim.faults.dependency import CacheDown, DatabaseFault, NetworkDelay
from aither_wm.sim.faults.process import BadDeploy, DiskFull, GpuMemoryPressure, MemoryLeak
from aither_wm.sim.faults.remedies import EFFECTS, REMEDIES, Effect, Remedy, remedy_for

__all__ = [
    "EFFECTS",
    "FAULTS",
    "FAULT_NAMES",
    "REMEDIES",
    "Effect",
    "Fault",
    "Remedy",
    "candidate_targets",
    "make_fault",
    "pick_fault",
    "remedy_for",
]

#: Fault classes by name.
FAULTS: MappingProxyType[str, type[Fault]] = MappingProxyType({
    cls.name: cls
    for cls in (
        MemoryLeak, CpuSaturation, BadDeploy, CacheDown, DatabaseFault, DiskFull, NetworkDelay,
        PodKill, GpuMemoryPressure, RetryStorm,
    )
})  # fmt: skip
FAULT_NAMES: tuple[str, ...] = tuple(FAULTS)
assert set(FAULTS) == set(REMEDIES)

_ML_HINTS = ("recommend", "model", "inference", "predict", "gpu")


def _fault_class(name: str) -> type[Fault]:
    try:
        return FAULTS[name]
    except KeyError:
        raise ConfigError(f"unknown fault {name!r}; expected one of {', '.join(FAULTS)}") from None


def make_fault(name: str, target: str, **params: Any) -> Fault:
    """A fault ``name`` on ``target`` with ``params`` (the class's fields); inject it next.

    Raises:
        ConfigError: unknown fault name, unknown parameter, or a value out of range.
    """
    cls = _fault_class(name)
    try:
        return cls(target=target, **params)
    except TypeError as e:
        raise ConfigError(f"{name}: bad parameters {sorted(params)} ({e})") from None


def pick_fault(name: str, graph: ServiceGraph, rng: np.random.Generator) -> Fault:
    """A fault ``name`` with default parameters on a sensible target drawn with ``rng``."""
    cls = _fault_class(name)
    pool = candidate_targets(cls, graph)
    if cls is GpuMemoryPressure:
        hinted = [s for s in pool if any(h in s.lower() for h in _ML_HINTS)]
        pool = hinted or pool
    target = pool[int(rng.integers(len(pool)))]
    if cls is NetworkDelay:
        callers = sorted(graph.callers(target), key=graph.index)
        caller = callers[int(rng.integers(len(callers)))] if callers else None
        return NetworkDelay(target=target, caller=caller)
    return cls(target=target)
