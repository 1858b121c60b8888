"""Telemetry columns -> MeshState fields: which column becomes which field, in which unit.

The table (also in ``docs/telemetry.md``); columns are matched by name, case-insensitively, and
a field takes the first of its candidate columns a file has (several candidates joined by ``max``
are all used when present):

| field | source column(s) | conversion | pods of one service |
|---|---|---|---|
| cpu_util | CpuUsageRate(%) | / 100, clipped to [0, 1] | mean |
| memory_util | MemoryUsageRate(%) | / 100, clipped to [0, 1] | mean |
| latency_p50_ms | max(PodServerLatencyP90(s), PodClientLatencyP90(s)) | x 1000 | max |
| latency_p99_ms | max(PodServerLatencyP99(s), PodClientLatencyP99(s)) | x 1000, >= p50 | max |
| error_rate | PodSuccessRate(%) | 1 - x / 100, clipped to [0, 1] | mean weighted by workload |
| request_rate_rps | PodWorkload(Ops) | as is (operations per second) | sum |
| replicas | (pods with a row in the interval) | count | - |

The layout publishes no median latency: the lowest published percentile (p90) fills the p50
field. Client latency (the pod's calls to its callees) is folded in with ``max`` so a delay on
the network path to a callee shows up in the caller's latency fields. Fields without a source
(``gpu_memory_util``, ``disk_util``) are 0; health is ``healthy`` (no health checks are
published); version 1, no previous version. A field whose source column is absent is filled with
its nominal constant and reported (``missing_column``), never silently; so is a success-rate
column that is 0 in every row while the pod serves requests (a dead column: "every request
failed" is not what it measured). The entry point's own success rate (``front_service.csv``)
then gives the entry service's ``error_rate`` when its pods' column is dead.

Glossary: R rows, M = len(FIELDS) mapped fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aither_wm.telemetry.report import ReadReport
from aither_wm.telemetry.table import RawTable

__all__ = ["AGGREGATION", "FIELDS", "NOMINAL", "SOURCES", "FieldSource", "map_rows"]

#: The mapped metric fields, in the order of every [..., M] array.
FIELDS: tuple[str, ...] = (
    "cpu_util",
    "memory_util",
    "latency_p50_ms",
    "latency_p99_ms",
    "error_rate",
    "request_rate_rps",
)

#: The constant a field takes when its source column is absent from a file.
NOMINAL: dict[str, float] = {
    "cpu_util": 0.0,
    "memory_util": 0.0,
    "latency_p50_ms": 0.0,
    "latency_p99_ms": 0.0,
    "error_rate": 0.0,
    "request_rate_rps": 0.0,
}

#: How the pods of one service combine per field: mean, max, sum, or weighted (by workload).
AGGREGATION: dict[str, str] = {
    "cpu_util": "mean",
    "memory_util": "mean",
    "latency_p50_ms": "max",
    "latency_p99_ms": "max",
    "error_rate": "weighted",
    "request_rate_rps": "sum",
}


@dataclass(frozen=True)
class FieldSource:
    """Where one field comes from: candidate columns joined by ``max``, then ``scale * x +
    offset``, then clipped to [lo, hi]."""

    columns: tuple[str, ...]
    scale: float
    offset: float
    lo: float
    hi: float


SOURCES: dict[str, FieldSource] = {
    "cpu_util": FieldSource(("CpuUsageRate(%)",), 0.01, 0.0, 0.0, 1.0),
    "memory_util": FieldSource(("MemoryUsageRate(%)",), 0.01, 0.0, 0.0, 1.0),
    "latency_p50_ms": FieldSource(
        ("PodServerLatencyP90(s)", "PodClientLatencyP90(s)"), 1000.0, 0.0, 0.0, 1e7
    ),
    "latency_p99_ms": FieldSource(
        ("PodServerLatencyP99(s)", "PodClientLatencyP99(s)"), 1000.0, 0.0, 0.0, 1e7
    ),
    "error_rate": FieldSource(("PodSuccessRate(%)",), -0.01, 1.0, 0.0, 1.0),
    "request_rate_rps": FieldSource(("PodWorkload(Ops)",), 1.0, 0.0, 0.0, 1e9),
}


def _is_dead_success(table: RawTable, cols: list[np.ndarray]) -> bool:
    """A success-rate column that is 0 in every row while the pod serves requests is not
    measured (a dead exporter column), not "every request failed"."""
    load = next(
        (
            c
            for c in (table.column(n) for n in SOURCES["request_rate_rps"].columns)
            if c is not None
        ),
        None,
    )
    v = np.concatenate(cols)
    v = v[np.isfinite(v)]
    return bool(
        v.size >= 10 and (v == 0).all() and load is not None and np.nanmax(load, initial=0) > 0
    )


def map_rows(table: RawTable, report: ReadReport, where: str) -> tuple[np.ndarray, frozenset[str]]:
    """A metric file's rows as mapped fields (NaN where the source cells are missing), and the
    fields whose source column is dead (see :func:`_is_dead_success`; set to their constant).

    Shape: table [R, C] -> [R, M].
    """
    R = table.num_rows
    out = np.full((R, len(FIELDS)), np.nan)
    dead: set[str] = set()
    for m, name in enumerate(FIELDS):
        src = SOURCES[name]
        cols = [c for c in (table.column(n) for n in src.columns) if c is not None]
        if not cols:
            out[:, m] = NOMINAL[name]
            report.add(
                "missing_column",
                where,
                f"no column {' or '.join(src.columns)}: {name} set to {NOMINAL[name]}",
                R,
            )
            continue
        if name == "error_rate" and _is_dead_success(table, cols):
            out[:, m] = NOMINAL[name]
            dead.add(name)
            report.add(
                "missing_column",
                where,
                f"{' / '.join(src.columns)} is 0 in every row while the pod serves requests "
                f"(a dead column, not 100% errors): {name} set to {NOMINAL[name]}",
                R,
            )
            continue
        stacked = np.stack(cols)  # [K, R]
        has = np.isfinite(stacked).any(0)  # [R]
        raw = np.where(has, np.nanmax(np.where(np.isfinite(stacked), stacked, -np.inf), 0), np.nan)
        v = src.scale * raw + src.offset  # [R]
        outside = np.isfinite(v) & ((v < src.lo) | (v > src.hi))
        if outside.any():
            report.add(
                "clipped",
                where,
                f"{int(outside.sum())} value(s) of {name} outside [{src.lo:g}, {src.hi:g}]: clipped",
                int(outside.sum()),
            )
        out[:, m] = np.clip(v, src.lo, src.hi)
    return out, frozenset(dead)
