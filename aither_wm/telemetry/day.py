"""What the reader returns: the telemetry of one day, and of a whole folder.

Glossary: T intervals, N services, M mapped fields (:data:`~aither_wm.telemetry.mapping.FIELDS`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import MeshState, ServiceState
from aither_wm.telemetry.faults import Fault
from aither_wm.telemetry.mapping import FIELDS
from aither_wm.telemetry.report import ReadReport

__all__ = ["Telemetry", "TelemetryDay"]


@dataclass(frozen=True)
class TelemetryDay:
    """One day's metrics on a regular grid, in the graph's service order.

    Attributes:
        name: the day folder's name.
        graph: the service graph (shared by all days of a folder).
        times_s: interval times, unix seconds. Shape: [T].
        step_s: sampling interval, seconds.
        fields: mapped fields, filled (finite). Shape: [T, N, M].
        replicas: pods reporting per service (carried forward over gaps). Shape: [T, N] int.
        observed: a pod of the service had a row in the interval. Shape: [T, N] bool.
        entry: the entry point's own series (``front_service.csv`` columns, e.g. latency), filled.
            Each: [T].
        faults: the injected faults, on the metrics' clock, by time.
    """

    name: str
    graph: ServiceGraph
    times_s: np.ndarray
    step_s: float
    fields: np.ndarray
    replicas: np.ndarray
    observed: np.ndarray
    entry: dict[str, np.ndarray]
    faults: tuple[Fault, ...]

    @property
    def num_steps(self) -> int:
        return int(self.times_s.shape[0])

    def step_of(self, t_s: float) -> int:
        """The first interval at or after ``t_s`` (a fault shows there first); may be >= T."""
        return int(np.ceil((t_s - float(self.times_s[0])) / self.step_s - 1e-9))

    def state(self, t: int) -> MeshState:
        """The MeshState of interval ``t`` (see :mod:`aither_wm.telemetry.mapping`)."""
        f = self.fields[t]  # [N, M]
        services = {}
        for i, s in enumerate(self.graph.services):
            v: dict[str, object] = dict(zip(FIELDS, (float(x) for x in f[i]), strict=True))
            services[s] = ServiceState.model_validate({**v, "replicas": int(self.replicas[t, i])})
        return MeshState(graph=self.graph.name, step=t, services=services)

    def states(self) -> list[MeshState]:
        """Every interval's state, in time order (T states)."""
        return [self.state(t) for t in range(self.num_steps)]


@dataclass(frozen=True)
class Telemetry:
    """A telemetry folder: its graph, its days in name order, and what reading found."""

    name: str
    graph: ServiceGraph
    days: tuple[TelemetryDay, ...]
    report: ReadReport

    def day(self, name: str) -> TelemetryDay:
        for d in self.days:
            if d.name == name:
                return d
        raise KeyError(f"no day {name!r}; days: {[d.name for d in self.days]}")
