"""Aggregating episode records: per policy and per fault type, with 95 % intervals over seeds.

The unit of every interval is the replicate (one seed: its own mesh, its own episodes): a metric is
first averaged over a replicate's episodes, then :func:`~aither_wm.eval.stats.mean_ci` runs over the
replicates. Metrics that do not apply to an episode (time to mitigate without a breach) are left
out of its replicate's mean; a replicate without any value is left out of the interval (``n``
says how many remained). ``vs_reactive`` is the paired difference (same scenarios) of each
policy's SLO-violation minutes minus the reactive baseline's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from aither_wm.eval.metrics import METRICS, EpisodeRecord, score_record
from aither_wm.eval.stats import Interval, mean_ci, paired_diff_ci

__all__ = ["FAULT_FREE", "markdown_table", "percentile", "summarize"]

#: The by_fault key of fault-free episodes.
FAULT_FREE = "none"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The project's one percentile: ``numpy.quantile`` with linear interpolation between the two
    nearest ranks (q in [0, 1]), so a p95 means the same in every report; None for no values."""
    if len(values) == 0:
        return None
    return float(np.quantile(np.asarray(values, dtype=float), q, method="linear"))


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table as lines: ``| a | b |``, ``|---|---|``, then one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _per_replicate(rows: Iterable[tuple[int, dict[str, Any]]], metric: str) -> dict[int, float]:
    by: dict[int, list[float]] = defaultdict(list)
    for rep, score in rows:
        v = score[metric]
        if v is not None:
            by[rep].append(float(v))
    return {r: statistics.fmean(v) for r, v in sorted(by.items()) if v}


def _block(rows: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"episodes": len(rows)}
    for m in METRICS:
        reps = _per_replicate(rows, m)
        out[m] = mean_ci(list(reps.values())).to_dict() if reps else None
    return out


def summarize(records: Sequence[EpisodeRecord], *, hold_steps: int = 4) -> dict[str, Any]:
    """``{"policies": {name: metrics}, "by_fault": {fault: {name: metrics}}, "vs_reactive": ...,
    "lead_times_s": {name: [...]}, "decision_ms": {name: {...}}}`` (metrics: see ``METRICS``,
    each ``{"mean", "ci95": [low, high], "n"}``)."""
    scored = [(r, score_record(r, hold_steps=hold_steps)) for r in records]
    policies = list(dict.fromkeys(r.policy for r in records))
    faults = list(dict.fromkeys(r.fault or FAULT_FREE for r in records))
    result: dict[str, Any] = {"policies": {}, "by_fault": {f: {} for f in faults}}
    for p in policies:
        mine = [(r, s) for r, s in scored if r.policy == p]
        block = _block([(r.replicate, s) for r, s in mine])
        free = [(r.replicate, s) for r, s in mine if r.fault is None]
        block["fault_free_actions"] = (
            mean_ci(list(_per_replicate(free, "actions").values())).to_dict() if free else None
        )
        prevented = [s["prevented"] for r, s in mine if r.fault is not None]
        block["prevented_fraction"] = (
            round(sum(prevented) / len(prevented), 4) if prevented else None
        )
        result["policies"][p] = block
        for f in faults:
            rows = [(r.replicate, s) for r, s in mine if (r.fault or FAULT_FREE) == f]
            if rows:
                result["by_fault"][f][p] = _block(rows)
    if "reactive" in policies:
        base = _per_replicate(
            [(r.replicate, s) for r, s in scored if r.policy == "reactive"], "slo_violation_minutes"
        )
        vs: dict[str, Any] = {}
        for p in policies:
            if p == "reactive":
                continue
            ours = _per_replicate(
                [(r.replicate, s) for r, s in scored if r.policy == p], "slo_violation_minutes"
            )
            reps = sorted(set(base) & set(ours))
            if reps:
                d: Interval = paired_diff_ci([ours[i] for i in reps], [base[i] for i in reps])
                vs[p] = d.to_dict()
        result["vs_reactive"] = vs
    result["lead_times_s"] = {
        p: [s["lead_time_s"] for r, s in scored if r.policy == p and s["lead_time_s"] is not None]
        for p in policies
    }
    result["decision_ms"] = {}
    for p in policies:
        ms = [t for r in records if r.policy == p for t in r.decision_ms]
        result["decision_ms"][p] = {
            "p50": _round(percentile(ms, 0.5)),
            "p95": _round(percentile(ms, 0.95)),
            "n": len(ms),
        }
    return result


def _round(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)
