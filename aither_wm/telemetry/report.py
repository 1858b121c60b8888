"""What reading a telemetry folder found wrong, and what was done about it.

Every repair the reader makes (a truncated line dropped, a NaN cell filled, a missing minute
carried forward, a clock disagreement resolved) is one :class:`Note`, so nothing is fixed
silently. The CLI prints the notes' summary on stderr; ``--json`` carries them whole.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["NOTE_KINDS", "Note", "ReadReport"]

#: The kinds of note, each one class of problem the reader handles.
NOTE_KINDS: tuple[str, ...] = (
    "truncated_row",  # a line with fewer (or more) fields than the header: dropped
    "bad_cell",  # a numeric cell that is not a number: treated as missing
    "nan_cell",  # a cell that says NaN / is empty: filled (see fill)
    "clock",  # a row's TimeStamp disagrees with its time string; which one was used
    "duplicate_time",  # two rows of one pod in one sampling interval: averaged
    "missing_minutes",  # intervals without a row for a service: carried forward
    "restarted_pod",  # a service's pod replaced by one with a new name (a restart)
    "replicas",  # a service with several pods at once: aggregated
    "clipped",  # a value outside its field's range (e.g. CPU above the limit): clipped
    "missing_column",  # a field's source column absent: the field is filled with a constant
    "unknown_edge",  # a dependency naming something without metrics (an IP, a load generator)
    "isolated_service",  # a service with metrics and no dependency edge
    "missing_service",  # a service without any row on a day: filled from another day
    "fault_time",  # a fault's time string and unix timestamp disagree; which was used
    "fault_skipped",  # a fault that cannot be placed (unknown service, outside the metrics)
    "empty_file",  # a metric file without a single usable row
)


@dataclass(frozen=True)
class Note:
    """One problem found and how it was handled.

    Attributes:
        kind: one of :data:`NOTE_KINDS`.
        where: the file (relative to the folder read) or the day and service concerned.
        message: what was found and what was done, one line.
        count: how many cells, rows or intervals it concerns.
    """

    kind: str
    where: str
    message: str
    count: int = 1

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class ReadReport:
    """The notes of one read, in the order found."""

    notes: list[Note] = field(default_factory=list)

    def add(self, kind: str, where: str, message: str, count: int = 1) -> None:
        if kind not in NOTE_KINDS:
            raise ValueError(f"unknown note kind {kind!r}; expected one of {NOTE_KINDS}")
        self.notes.append(Note(kind, where, message, int(count)))

    def of(self, kind: str) -> list[Note]:
        """The notes of one kind."""
        return [n for n in self.notes if n.kind == kind]

    def counts(self) -> dict[str, int]:
        """Notes per kind (kinds without notes left out)."""
        return dict(Counter(n.kind for n in self.notes))

    def summary(self) -> str:
        """One line: how many notes of each kind."""
        c = self.counts()
        return ", ".join(f"{k} {c[k]}" for k in NOTE_KINDS if k in c) or "no problems found"

    def to_json(self) -> list[dict[str, object]]:
        return [
            {"kind": n.kind, "where": n.where, "message": n.message, "count": n.count}
            for n in self.notes
        ]
