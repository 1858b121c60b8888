"""The fault list of a day: which pod got which fault when, with its time reconciled.

Each entry gives the time twice: ``inject_time`` (a string without a zone) and
``inject_timestamp`` (unix seconds). First the list's own zone offset is found: the whole-hour
difference most entries share (0 when the strings are UTC). An entry whose two times still
disagree beyond the tolerance is placed by the metrics' own clock: each candidate time is scored
by the step change of the injected service's metrics at the first interval it would affect
(largest robust jump wins); without a visible change the unix timestamp is kept (it carries no
zone). Every disagreement and every choice is reported.

Glossary: T intervals, N services, M fields.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from aither_wm.telemetry.clock import parse_time_string
from aither_wm.telemetry.grid import Grid
from aither_wm.telemetry.pods import service_of
from aither_wm.telemetry.report import ReadReport

__all__ = ["Fault", "RawFault", "onset_jump", "place_faults", "read_fault_list"]

TimeSource = Literal["agreed", "timestamp", "time_string"]


@dataclass(frozen=True)
class RawFault:
    """An entry as written: pod, type, and both times (NaN where unreadable)."""

    pod: str
    kind: str
    stamp_s: float
    string_s: float


@dataclass(frozen=True)
class Fault:
    """An injected fault, placed on the metrics' clock.

    Attributes:
        time_s: injection time, unix seconds.
        service: the injected service (the pod's service).
        pod: the pod named in the list.
        kind: the fault type (``cpu_contention``, ``network_delay``, ...).
        time_source: "agreed" (both times agree), or which of the two was used.
    """

    time_s: float
    service: str
    pod: str
    kind: str
    time_source: TimeSource


def _entries(doc: object) -> list[dict[str, object]]:
    if isinstance(doc, list):
        return [e for e in doc if isinstance(e, dict)]
    if isinstance(doc, dict):
        out: list[dict[str, object]] = []
        for key in sorted(doc):
            out.extend(_entries(doc[key]))
        return out
    return []


def read_fault_list(path: Path, report: ReadReport, where: str) -> list[RawFault]:
    """Entries of a fault-list JSON file ({hour: [entry]} or [entry]); bad entries reported."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        report.add("fault_skipped", where, f"fault list unreadable ({str(e)[:80]}): no faults")
        return []
    out = []
    for i, entry in enumerate(_entries(doc)):
        pod, kind = (
            str(entry.get("inject_pod", "")).strip(),
            str(entry.get("inject_type", "")).strip(),
        )
        try:
            stamp = float(str(entry.get("inject_timestamp", "nan")))
        except ValueError:
            stamp = math.nan
        string = parse_time_string(str(entry.get("inject_time", "")))
        if not pod or not kind or not (math.isfinite(stamp) or math.isfinite(string)):
            report.add("fault_skipped", where, f"entry {i} lacks a pod, a type or a time: skipped")
            continue
        out.append(RawFault(pod, kind, stamp, string))
    return out


def onset_jump(series: np.ndarray, b: int) -> float:
    """How sharply ``series`` changes at interval ``b``: max over fields of |x[b] - x[b-1]| over
    the robust scale of the 30 intervals before. Shape: series [T, M] -> float."""
    if b < 3 or b >= series.shape[0]:
        return 0.0
    ref = series[max(0, b - 31) : b - 1]  # [<=30, M]
    med = np.median(ref, 0)
    scale = 1.4826 * np.median(np.abs(ref - med), 0) + 1e-3 * (np.abs(med) + 1e-3)
    return float(np.max(np.abs(series[b] - series[b - 1]) / scale))


def place_faults(
    raw: list[RawFault],
    services: tuple[str, ...],
    fields: np.ndarray,
    grid: Grid,
    tolerance_s: float,
    report: ReadReport,
    where: str,
) -> list[Fault]:
    """Reconcile each entry's two times against the metrics' clock (see module doc).

    Shape: fields [T, N, M] (the day's mapped, filled fields).
    """
    diffs = [
        round((r.string_s - r.stamp_s) / 3600.0)
        for r in raw
        if math.isfinite(r.stamp_s) and math.isfinite(r.string_s)
    ]
    offset_h = Counter(diffs).most_common(1)[0][0] if diffs else 0
    if offset_h:
        report.add(
            "fault_time",
            where,
            f"fault time strings are {offset_h:+d} h from their unix timestamps (a time zone): "
            "strings shifted to UTC",
            len(diffs),
        )
    out: list[Fault] = []
    lo, hi = grid.t0_s, grid.t0_s + grid.step_s * (grid.size - 1)
    for r in raw:
        service = service_of(r.pod)
        if service not in services:
            report.add(
                "fault_skipped",
                where,
                f"{r.kind} on {r.pod}: service {service!r} has no metrics: skipped",
            )
            continue
        string = r.string_s - 3600.0 * offset_h
        source: TimeSource
        if not math.isfinite(string):
            t, source = r.stamp_s, "timestamp"
        elif not math.isfinite(r.stamp_s):
            t, source = string, "time_string"
        elif abs(string - r.stamp_s) <= tolerance_s:
            t, source = r.stamp_s, "agreed"
        else:
            series = fields[:, services.index(service)]  # [T, M]
            first = lambda c: math.ceil((c - grid.t0_s) / grid.step_s)  # noqa: E731
            s_stamp, s_string = (
                onset_jump(series, first(r.stamp_s)),
                onset_jump(series, first(string)),
            )
            use_string = s_string > 1.2 * s_stamp and s_string >= 3.0
            t, source = (string, "time_string") if use_string else (r.stamp_s, "timestamp")
            report.add(
                "fault_time",
                where,
                f"{r.kind} on {r.pod}: time string and timestamp differ by {string - r.stamp_s:+.0f} s; "
                f"{source.replace('_', ' ')} used (metrics' onset jump {s_string:.1f} at the string's "
                f"time, {s_stamp:.1f} at the timestamp's)",
            )
        if not lo - grid.step_s <= t <= hi:
            report.add(
                "fault_skipped",
                where,
                f"{r.kind} on {r.pod}: time {t:.0f} outside the metrics: skipped",
            )
            continue
        out.append(Fault(float(t), service, r.pod, r.kind, source))
    return sorted(out, key=lambda f: f.time_s)
