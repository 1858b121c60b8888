"""A recorded day of telemetry as a state source: ``observe()`` returns the next interval's state.

``speed`` is recorded seconds per wall-clock second: 1.0 replays in real time (one state per
sampling interval), 60.0 a minute per second, 0 as fast as asked (no waiting). After the last
interval the source stops with :class:`StopIteration`, or starts again with ``loop=True``.
The graph is the folder's (from its dependency.csv); a graph given by the host must name the
same services.
"""

from __future__ import annotations

import time
from pathlib import Path

from aither_wm.errors import TelemetryError
from aither_wm.graph import MeshState, ServiceGraph
from aither_wm.telemetry import Fault, TelemetryDay, read_telemetry

__all__ = ["ReplayStateSource"]


class ReplayStateSource:
    """Replays one day of a telemetry folder.

    Args:
        graph: the host's graph (its services must be the folder's); None: the folder's graph.
        path: the telemetry folder (``<day>/metric/*_metric.csv``).
        day: the day folder's name (default: the first).
        speed: recorded seconds per wall-clock second (0: no waiting).
        start: first interval replayed.
        loop: start again after the last interval instead of stopping.
    """

    def __init__(
        self,
        graph: ServiceGraph | None = None,
        *,
        path: str | Path,
        day: str | None = None,
        speed: float = 0.0,
        start: int = 0,
        loop: bool = False,
    ) -> None:
        if speed < 0:
            raise TelemetryError(f"speed must be >= 0 (recorded seconds per second), got {speed}")
        tel = read_telemetry(path, graph=graph)
        try:
            self.day: TelemetryDay = tel.day(day) if day is not None else tel.days[0]
        except KeyError as e:
            raise TelemetryError(str(e.args[0])) from None
        if not 0 <= start < self.day.num_steps:
            raise TelemetryError(f"start must be in [0, {self.day.num_steps}), got {start}")
        self.graph = tel.graph
        self.report = tel.report
        self.speed, self.loop = float(speed), bool(loop)
        self._next = start
        self._wall0: float | None = None
        self._first = start

    @property
    def position(self) -> int:
        """The interval the next ``observe()`` returns."""
        return self._next

    def faults_due(self) -> tuple[Fault, ...]:
        """Faults injected up to the interval last returned (ground truth for evaluation)."""
        t = self.day.times_s[max(0, self._next - 1)]
        return tuple(f for f in self.day.faults if f.time_s <= t)

    def observe(self) -> MeshState:
        if self._next >= self.day.num_steps:
            if not self.loop:
                raise StopIteration(f"telemetry day {self.day.name} replayed to its end")
            self._next, self._first, self._wall0 = 0, 0, None
        if self.speed > 0:
            now = time.monotonic()
            if self._wall0 is None:
                self._wall0 = now
            due = self._wall0 + (self._next - self._first) * self.day.step_s / self.speed
            if due > now:
                time.sleep(due - now)
        state = self.day.state(self._next)
        self._next += 1
        return state
