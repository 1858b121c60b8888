"""One CSV file of the telemetry layout, read without trusting it.

A row with fewer or more fields than the header (a truncated last line, a torn write) is dropped;
a numeric cell that is not a number becomes NaN; both are reported with line numbers. Columns are
found by name, case-insensitively: the time string (``Time``), the unix timestamp
(``TimeStamp``), text columns (names: ``PodName``, ``ServiceName``) and every numeric column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aither_wm.telemetry.clock import parse_time_string
from aither_wm.telemetry.report import ReadReport

__all__ = ["RawTable", "read_table"]

_TIME_NAMES = ("time", "itime", "datetime")
_STAMP_NAMES = ("timestamp", "time_stamp", "unix_time")
_TEXT_NAMES = ("podname", "servicename", "pod", "service", "node", "nodename")
_NAN_TEXT = ("", "nan", "NaN", "NAN", "null", "None", "-")


@dataclass(frozen=True)
class RawTable:
    """A CSV file's usable rows.

    Attributes:
        path: the file.
        columns: names of the numeric columns, in file order.
        values: numeric cells, NaN where missing or not a number. Shape: [R, C] float64.
        stamp_s: the unix-timestamp column (NaN where absent or unreadable). Shape: [R].
        parsed_s: the time-string column as unix seconds (NaN where absent). Shape: [R].
        names: the first text column's value per row (the pod or service name), or "".
        lines: the 1-based line number of each row in the file. Shape: [R] int.
    """

    path: Path
    columns: tuple[str, ...]
    values: np.ndarray
    stamp_s: np.ndarray
    parsed_s: np.ndarray
    names: tuple[str, ...]
    lines: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray | None:
        """A numeric column by name (case-insensitive), or None. Shape: [R]."""
        low = name.lower()
        for j, c in enumerate(self.columns):
            if c.lower() == low:
                return self.values[:, j]
        return None


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_table(path: Path, report: ReadReport, where: str) -> RawTable:
    """Read ``path``; every dropped row and bad cell is noted under ``where``."""
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            rows = list(csv.reader(fh))
    except OSError as e:
        report.add("empty_file", where, f"cannot be read ({e.strerror or e}): skipped")
        rows = []
    header = [h.strip() for h in rows[0]] if rows else []
    low = [h.lower() for h in header]
    t_col = next((j for j, h in enumerate(low) if h in _TIME_NAMES), None)
    s_col = next((j for j, h in enumerate(low) if h in _STAMP_NAMES), None)
    text_cols = [j for j, h in enumerate(low) if h in _TEXT_NAMES]
    num_cols = [j for j in range(len(header)) if j not in (t_col, s_col, *text_cols)]
    width = len(header)
    kept: list[list[str]] = []
    line_no: list[int] = []
    torn: list[int] = []
    for i, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            torn.append(i)
            continue
        kept.append(row)
        line_no.append(i)
    if torn:
        shown = ", ".join(map(str, torn[:5])) + (" ..." if len(torn) > 5 else "")
        report.add(
            "truncated_row",
            where,
            f"{len(torn)} row(s) without the header's {width} fields dropped (line {shown})",
            len(torn),
        )
    R, C = len(kept), len(num_cols)
    values = np.full((R, C), np.nan)
    bad: dict[str, int] = {}
    nan: dict[str, int] = {}
    for r, row in enumerate(kept):
        for c, j in enumerate(num_cols):
            cell = row[j].strip()
            if cell in _NAN_TEXT:
                nan[header[j]] = nan.get(header[j], 0) + 1
                continue
            v = _to_float(cell)
            if math.isfinite(v):
                values[r, c] = v
            else:
                bad[header[j]] = bad.get(header[j], 0) + 1
    for col, n in bad.items():
        report.add(
            "bad_cell", where, f"{n} cell(s) of {col} are not numbers: treated as missing", n
        )
    for col, n in nan.items():
        report.add("nan_cell", where, f"{n} cell(s) of {col} are NaN or empty: filled", n)
    stamp = (
        np.array([_to_float(row[s_col]) for row in kept])
        if s_col is not None
        else np.full(R, np.nan)
    )
    parsed = (
        np.array([parse_time_string(row[t_col]) for row in kept])
        if t_col is not None
        else np.full(R, np.nan)
    )
    names = tuple(row[text_cols[0]].strip() for row in kept) if text_cols else ("",) * R
    return RawTable(
        path=path,
        columns=tuple(header[j] for j in num_cols),
        values=values,
        stamp_s=stamp,
        parsed_s=parsed,
        names=names,
        lines=np.array(line_no, dtype=np.int64),
    )
