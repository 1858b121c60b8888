"""The transitions log: append-only JSON Lines, validated line by line when read.

Contract (../shared/design.md): one :class:`~aither_wm.graph.state.Transition` per line (schema
version, graph name, state, action, next state, timestamp, fault labels), UTF-8, ``\\n``-terminated.

Writing never rewrites earlier lines: the file is opened in append mode and each line is
written whole, then flushed (and fsync'ed when asked). If a crash left a torn last line (no
newline), the next writer first terminates it, so the torn line stays one bad line instead of
corrupting the next record.

Reading validates every line (UTF-8, JSON, ``schema_version``, the Transition schema), reports
bad lines by number with a reason, optionally copies them to a quarantine file, and never drops
a good line. A last line without a newline that does not parse is a *torn tail* (a crash
mid-append): reported, never fatal. Blank lines are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from pydantic import ValidationError

from aither_wm.errors import LogError, validation_message
from aither_wm.graph.state import SCHEMA_VERSION, Transition

__all__ = [
    "ReadReport",
    "TransitionLogWriter",
    "iter_transitions",
    "parse_line",
    "read_transitions",
]

#: ``on_error(line_number, reason, raw_bytes)``: called for each bad line.
ErrorCallback = Callable[[int, str, bytes], None]
TORN_TAIL = "torn last line (no newline; a crash mid-append?)"


class TransitionLogWriter:
    """Append transitions to a JSONL log, one flushed line each. A context manager.

    Args:
        path: the log file (created if missing, parents included).
        fsync: also ``os.fsync`` after every line (durable across power loss; slower).
    """

    def __init__(self, path: str | Path, *, fsync: bool = False):
        self.path = Path(path)
        self.fsync = fsync
        self.lines_written = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = self._ends_torn(self.path)
            self._file = open(self.path, "ab")  # noqa: SIM115 - closed by close()/__exit__
        except OSError as e:
            raise LogError(
                f"{self.path}: cannot open the transitions log ({e.strerror or e})"
            ) from None
        if torn:
            self._write(b"\n")

    @staticmethod
    def _ends_torn(path: Path) -> bool:
        if not path.exists() or path.stat().st_size == 0:
            return False
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"

    @property
    def closed(self) -> bool:
        return self._file.closed

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())
        except OSError as e:
            raise LogError(f"{self.path}: write failed ({e.strerror or e})") from None

    def append(self, transition: Transition) -> None:
        """Write one transition as one line."""
        if self.closed:
            raise LogError(f"{self.path}: the log writer is closed")
        if not isinstance(transition, Transition):
            raise LogError(f"expected a Transition, got {type(transition).__name__}")
        self._write(transition.model_dump_json().encode("utf-8") + b"\n")
        self.lines_written += 1

    def extend(self, transitions: Iterable[Transition]) -> int:
        """Append each transition; returns how many were written."""
        n = 0
        for t in transitions:
            self.append(t)
            n += 1
        return n

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TransitionLogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_line(raw: bytes) -> Transition | None:
    """One log line (without or with its newline) -> a Transition; None for a blank line (ASCII
    whitespace only: a line of other control characters, such as the file separator 0x1c that
    ``str.strip`` would remove, is reported as bad, not skipped silently).

    Raises:
        ValueError: with the reason the line is bad.
    """
    try:
        text = raw.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"not UTF-8 (byte {e.start})") from None
    if not raw.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON at column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    if "schema_version" not in obj:
        raise ValueError("missing schema_version")
    if obj["schema_version"] != SCHEMA_VERSION:
        raise ValueError(
            f"schema_version {obj['schema_version']!r} is not supported (expected {SCHEMA_VERSION})"
        )
    try:
        return Transition.model_validate(obj)
    except ValidationError as e:
        raise ValueError(
            f"invalid transition at {validation_message(e, show_input=False)}"
        ) from None


def _raise(line: int, reason: str, raw: bytes) -> None:
    raise LogError(f"line {line}: {reason}")


def iter_transitions(
    path: str | Path, *, on_error: ErrorCallback | None = None
) -> Iterator[Transition]:
    """Yield every good transition of the log, in order.

    Args:
        on_error: called ``(line_number, reason, raw_bytes)`` for each bad line (1-based), the
            reason of a torn tail starting with "torn last line"; None raises LogError instead.
    """
    report = on_error or _raise
    p = Path(path)
    try:
        f = open(p, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise LogError(f"{p}: cannot read the transitions log ({e.strerror or e})") from None
    with f:
        for n, raw in enumerate(f, start=1):
            try:
                t = parse_line(raw)
            except ValueError as e:
                torn = not raw.endswith(b"\n")
                report(n, f"{TORN_TAIL}: {e}" if torn else str(e), raw)
                continue
            if t is not None:
                yield t


@dataclass
class ReadReport:
    """What :func:`read_transitions` found.

    Attributes:
        path: the log read.
        transitions: every good transition, in file order.
        bad_lines: (line number, reason) of each bad line, 1-based.
        torn_tail: the last line had no newline and did not parse (a crash mid-append).
        quarantine: where bad lines were copied, if anywhere.
    """

    path: Path
    transitions: list[Transition] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    torn_tail: bool = False
    quarantine: Path | None = None

    @property
    def num_bad(self) -> int:
        return len(self.bad_lines)

    @property
    def is_clean(self) -> bool:
        return not self.bad_lines


def read_transitions(path: str | Path, *, quarantine: str | Path | None = None) -> ReadReport:
    """Read a log, keeping every good line and reporting (and quarantining) the bad ones.

    Args:
        quarantine: append each bad line to this JSONL file as
            ``{"source", "line", "reason", "raw"}`` (raw decoded with backslash escapes).
    """
    report = ReadReport(path=Path(path), quarantine=Path(quarantine) if quarantine else None)
    bad_raw: list[tuple[int, str, bytes]] = []

    def on_error(line: int, reason: str, raw: bytes) -> None:
        report.bad_lines.append((line, reason))
        report.torn_tail = report.torn_tail or reason.startswith(TORN_TAIL)
        bad_raw.append((line, reason, raw))

    report.transitions = list(iter_transitions(path, on_error=on_error))
    if report.quarantine is not None and bad_raw:
        try:
            report.quarantine.parent.mkdir(parents=True, exist_ok=True)
            with open(report.quarantine, "a", encoding="utf-8") as q:
                for line, reason, raw in bad_raw:
                    text = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
                    record = {"source": str(path), "line": line, "reason": reason, "raw": text}
                    q.write(json.dumps(record) + "\n")
        except OSError as e:
            raise LogError(
                f"{report.quarantine}: cannot write quarantine ({e.strerror or e})"
            ) from None
    return report
