"""Rows at irregular times -> one value per service per sampling interval.

Each row goes to the interval nearest its time (``round((t - t0) / step)``); two rows of one pod
in one interval (a duplicated timestamp) are averaged. The pods of one service (replicas, or a
pod restarted under a new name) are combined per field (:data:`~aither_wm.telemetry.mapping.
AGGREGATION`). Intervals without any row, and NaN cells, carry the last value forward (the
first ones take the first value seen); each is counted and reported.

Glossary: T intervals, N services, M mapped fields, R rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aither_wm.telemetry.mapping import AGGREGATION, FIELDS
from aither_wm.telemetry.report import ReadReport

__all__ = ["Grid", "PodRows", "bin_rows", "combine_pods", "fill_forward"]


@dataclass(frozen=True)
class Grid:
    """The sampling intervals of one day: ``t0_s + step_s * arange(T)``."""

    t0_s: float
    step_s: float
    size: int

    def times(self) -> np.ndarray:
        """Shape: [T]."""
        return self.t0_s + self.step_s * np.arange(self.size)

    def bin_of(self, t_s: np.ndarray) -> np.ndarray:
        """Interval index of each time (may fall outside [0, T)). Shape: [R] -> [R] int."""
        return np.round((t_s - self.t0_s) / self.step_s).astype(np.int64)


@dataclass(frozen=True)
class PodRows:
    """One pod's rows, mapped: times [R] (finite), fields [R, M], and the fields whose source
    column is dead in this pod's file."""

    pod: str
    service: str
    where: str
    times_s: np.ndarray
    fields: np.ndarray
    dead: frozenset[str] = frozenset()


def bin_rows(rows: PodRows, grid: Grid, report: ReadReport) -> np.ndarray:
    """A pod's fields per interval, NaN where it has no row. Shape: [R, M] -> [T, M]."""
    T, M = grid.size, rows.fields.shape[1]
    b = grid.bin_of(rows.times_s)  # [R]
    inside = (b >= 0) & (b < T)
    if (~inside).any():
        report.add(
            "clock",
            rows.where,
            f"{int((~inside).sum())} row(s) outside the day's intervals: dropped",
            int((~inside).sum()),
        )
    b, f = b[inside], rows.fields[inside]
    sums = np.zeros((T, M))
    counts = np.zeros((T, M))
    ok = np.isfinite(f)
    np.add.at(sums, b, np.where(ok, f, 0.0))
    np.add.at(counts, b, ok.astype(float))
    per_bin = np.bincount(b, minlength=T)  # [T]
    dup = int((per_bin > 1).sum())
    if dup:
        report.add(
            "duplicate_time",
            rows.where,
            f"{dup} interval(s) with two or more rows (duplicated timestamps): averaged",
            dup,
        )
    out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)  # [T, M]
    out[per_bin == 0] = np.nan
    return out


def combine_pods(per_pod: list[np.ndarray], present: list[np.ndarray]) -> np.ndarray:
    """One service's fields from its pods' binned fields.

    Shape: per_pod K x [T, M], present K x [T] bool -> [T, M] (NaN where no pod has a value).
    """
    X = np.stack(per_pod)  # [K, T, M]
    P = np.stack(present)[..., None] & np.isfinite(X)  # [K, T, M]
    Xz = np.where(P, X, 0.0)
    n = P.sum(0)  # [T, M]
    out = np.full(X.shape[1:], np.nan)
    w_col = FIELDS.index("request_rate_rps")
    weights = np.where(P[..., w_col], Xz[..., w_col], 0.0)  # [K, T]
    for m, name in enumerate(FIELDS):
        how = AGGREGATION[name]
        has = n[:, m] > 0
        if how == "sum":
            v = Xz[..., m].sum(0)
        elif how == "max":
            v = np.where(P[..., m], X[..., m], -np.inf).max(0)
        elif how == "weighted":
            w = np.where(P[..., m], weights, 0.0)  # [K, T]
            wsum = w.sum(0)
            mean = Xz[..., m].sum(0) / np.maximum(n[:, m], 1)
            v = np.where(wsum > 0, (w * Xz[..., m]).sum(0) / np.where(wsum > 0, wsum, 1), mean)
        else:
            v = Xz[..., m].sum(0) / np.maximum(n[:, m], 1)
        out[has, m] = v[has]
    return out


def fill_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carry the last finite value forward (leading gaps take the first one).

    Shape: [T, ...] -> (filled [T, ...], was_missing [T, ...] bool). A column without any finite
    value stays NaN.
    """
    missing = ~np.isfinite(x)
    T = x.shape[0]
    flat = x.reshape(T, -1)
    idx = np.where(np.isfinite(flat), np.arange(T)[:, None], -1)  # [T, K]
    idx = np.maximum.accumulate(idx, axis=0)
    first = np.argmax(np.isfinite(flat), axis=0)  # [K]
    idx = np.where(idx < 0, first[None, :], idx)
    filled = np.take_along_axis(flat, idx, axis=0).reshape(x.shape)
    return filled, missing
