"""The audit log: one JSON object per decision, appended, flushed, never rewritten.

Every decision of the controller (both plans, the chosen one, the reason, the guard's verdict,
whether it was executed) becomes one line. The file is opened in append mode, each line is
written whole and flushed (and fsynced when ``fsync=True``), so a crash loses at most the line
being written and never an earlier one. :func:`read_audit` skips a torn last line and reports it.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aither_wm.errors import LogError

__all__ = ["AUDIT_SCHEMA_VERSION", "AuditLog", "AuditReport", "read_audit"]

#: Version of the audit record layout (``schema_version`` of each line).
AUDIT_SCHEMA_VERSION = 1


def _plain(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become None (JSON has no NaN), tuples become lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


class AuditLog:
    """Append-only JSONL audit log.

    Args:
        path: the file (created with its folder; an existing file is appended to).
        fsync: also fsync after each record (durable across power loss; slower).
    """

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (held open)
        except OSError as e:
            raise LogError(f"{self.path}: cannot open audit log for appending ({e})") from None
        self.records_written = 0

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one record (adds ``schema_version`` and ``logged_at``); returns it."""
        line_obj = {"schema_version": AUDIT_SCHEMA_VERSION, "logged_at": time.time(), **record}
        line = json.dumps(_plain(line_obj), sort_keys=True, allow_nan=False) + "\n"
        with self._lock:
            if self._file.closed:
                raise LogError(f"{self.path}: audit log is closed")
            try:
                self._file.write(line)
                self._file.flush()
                if self.fsync:
                    os.fsync(self._file.fileno())
            except OSError as e:
                raise LogError(f"{self.path}: cannot append to audit log ({e})") from None
            self.records_written += 1
        return line_obj

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class AuditReport:
    """What :func:`read_audit` found: the records and the line numbers it could not parse."""

    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)


def read_audit(path: str | Path) -> AuditReport:
    """Read an audit log; unparsable lines (a torn last line) are reported by number, not raised."""
    report = AuditReport()
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise LogError(f"{p}: cannot read audit log ({e})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # torn or garbled line, absurd number or nesting
            report.bad_lines.append(i)
            continue
        if isinstance(obj, dict):
            report.records.append(obj)
        else:
            report.bad_lines.append(i)
    return report
