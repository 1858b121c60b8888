"""Read a telemetry folder in the Nezha layout into regular per-service series and MeshStates.

Layout: one sub-folder per day with ``metric/<pod>_metric.csv`` (one row per pod per sampling
interval), ``metric/front_service.csv`` (the entry point), optionally ``metric/dependency.csv``
(Source, Target) and ``<day>-fault_list.json``. Nothing is assumed about the system: services,
columns, the number of services and the sampling interval all come from the files.

Steps: each file is read without trusting it (:mod:`.table`), each row's time chosen from its
two clocks (:mod:`.clock`), its columns mapped to MeshState fields (:mod:`.mapping`), rows put
on a regular grid and pods combined into services (:mod:`.grid`), gaps carried forward, the graph
built (:mod:`.topology`), and the faults placed (:mod:`.faults`). Every repair is a note of the
returned report; only a folder with nothing usable at all raises :class:`TelemetryError`.

Glossary: T intervals, N services, M mapped fields, R rows.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aither_wm.errors import TelemetryError
from aither_wm.graph.schema import ServiceGraph
from aither_wm.telemetry.clock import ClockSpan, choose_times
from aither_wm.telemetry.config import TelemetryConfig
from aither_wm.telemetry.day import Telemetry, TelemetryDay
from aither_wm.telemetry.faults import place_faults, read_fault_list
from aither_wm.telemetry.grid import Grid, PodRows, bin_rows, combine_pods, fill_forward
from aither_wm.telemetry.mapping import FIELDS, map_rows
from aither_wm.telemetry.pods import service_of
from aither_wm.telemetry.report import ReadReport
from aither_wm.telemetry.table import RawTable, read_table
from aither_wm.telemetry.topology import build_graph, read_edges

__all__ = ["day_folders", "read_telemetry"]

_METRIC_SUFFIX = "_metric.csv"
_P50, _P99 = FIELDS.index("latency_p50_ms"), FIELDS.index("latency_p99_ms")


@dataclass
class _DayFiles:
    name: str
    tables: list[tuple[str, str, RawTable]]  # (pod, where, table)
    front: RawTable | None
    edges: list[tuple[str, str]]
    fault_path: Path | None


def day_folders(root: Path) -> list[Path]:
    """The day folders of ``root`` (those with a ``metric/`` sub-folder), by name."""
    if not root.is_dir():
        raise TelemetryError(f"{root}: not a folder (expected <day>/metric/*{_METRIC_SUFFIX})")
    days = sorted(d for d in root.iterdir() if d.is_dir() and (d / "metric").is_dir())
    if not days:
        raise TelemetryError(
            f"{root}: no day folder with a metric/ sub-folder (expected <day>/metric/*{_METRIC_SUFFIX})"
        )
    return days


def _load_day(day: Path, root: Path, report: ReadReport) -> _DayFiles:
    metric = day / "metric"
    tables = []
    for f in sorted(metric.glob(f"*{_METRIC_SUFFIX}")):
        where = str(f.relative_to(root))
        t = read_table(f, report, where)
        if t.num_rows == 0:
            report.add("empty_file", where, "no usable row: file skipped")
            continue
        named = Counter(n for n in t.names if n)
        pod = named.most_common(1)[0][0] if named else f.name[: -len(_METRIC_SUFFIX)]
        tables.append((pod, where, t))
    front_path = metric / "front_service.csv"
    front = (
        read_table(front_path, report, str(front_path.relative_to(root)))
        if front_path.is_file()
        else None
    )
    edges: list[tuple[str, str]] = []
    dep = metric / "dependency.csv"
    if dep.is_file():
        with dep.open(newline="", encoding="utf-8", errors="replace") as fh:
            edges = read_edges(csv.reader(fh))
    faults = sorted(day.glob("*fault_list.json"))
    return _DayFiles(day.name, tables, front, edges, faults[0] if faults else None)


def _clock_span(files: _DayFiles, cfg: TelemetryConfig) -> ClockSpan:
    """The span where the rows' two clocks agree (else the files' typical first/last times)."""
    agree = [
        t.stamp_s[np.abs(t.stamp_s - t.parsed_s) <= cfg.clock_tolerance_s]
        for _, _, t in files.tables
    ]
    pooled = np.concatenate(agree) if agree else np.array([])
    if pooled.size:
        return ClockSpan(float(pooled.min()), float(pooled.max()), margin_s=cfg.clock_tolerance_s)
    firsts, lasts = [], []
    for _, _, t in files.tables:
        v = t.stamp_s if np.isfinite(t.stamp_s).any() else t.parsed_s
        v = v[np.isfinite(v)]
        if v.size:
            firsts.append(v.min())
            lasts.append(v.max())
    if not firsts:
        raise TelemetryError(f"{files.name}: no metric row carries a readable time")
    return ClockSpan(
        float(np.median(firsts)), float(np.median(lasts)), margin_s=cfg.clock_tolerance_s
    )


def _pod_rows(
    files: _DayFiles, span: ClockSpan, cfg: TelemetryConfig, report: ReadReport
) -> list[PodRows]:
    out = []
    for pod, where, t in files.tables:
        times, used_string, disagree = choose_times(
            t.stamp_s, t.parsed_s, span, cfg.clock_tolerance_s
        )
        if disagree.any():
            n, s = int(disagree.sum()), int((disagree & used_string).sum())
            off = float(np.median((t.stamp_s - t.parsed_s)[disagree]))
            report.add(
                "clock",
                where,
                f"TimeStamp disagrees with the time string on {n} of {t.num_rows} rows (median "
                f"{off:+.0f} s): time string used on {s} (inside the metrics' clock span), "
                f"TimeStamp on {n - s}",
                n,
            )
        lost = ~np.isfinite(times)
        if lost.any():
            report.add(
                "clock",
                where,
                f"{int(lost.sum())} row(s) with no time inside the day: dropped",
                int(lost.sum()),
            )
        fields, dead = map_rows(t, report, where)
        out.append(PodRows(pod, service_of(pod), where, times[~lost], fields[~lost], dead))
    return out


def _step_s(pods: list[PodRows], cfg: TelemetryConfig) -> float:
    if cfg.step_s is not None:
        return float(cfg.step_s)
    diffs = np.concatenate(
        [np.diff(np.sort(p.times_s)) for p in pods if p.times_s.size > 1] or [np.array([])]
    )
    diffs = diffs[diffs > 0]
    if not diffs.size:
        raise TelemetryError(
            "cannot infer the sampling interval: no pod has two rows (give step_s)"
        )
    return float(np.round(np.median(diffs), 1))


def _note_pods(
    service: str, day: str, pods: list[PodRows], present: list[np.ndarray], report: ReadReport
) -> None:
    if len(pods) < 2:
        return
    overlap = int((np.stack(present).sum(0) > 1).sum())
    names = ", ".join(p.pod for p in pods)
    smallest = min(int(p.sum()) for p in present)
    if overlap <= 0.1 * max(1, smallest):
        report.add(
            "restarted_pod",
            f"{day}/{service}",
            f"pods {names} follow one another (a restart under a new name): one series",
        )
    else:
        report.add(
            "replicas",
            f"{day}/{service}",
            f"{len(pods)} pods ({names}) in {overlap} interval(s) at once: aggregated",
            overlap,
        )


def _entry_series(
    front: RawTable | None, grid: Grid, span: ClockSpan, cfg: TelemetryConfig
) -> dict[str, np.ndarray]:
    if front is None or front.num_rows == 0:
        return {}
    times, _, _ = choose_times(front.stamp_s, front.parsed_s, span, cfg.clock_tolerance_s)
    ok = np.isfinite(times)
    b = grid.bin_of(times[ok])
    inside = (b >= 0) & (b < grid.size)
    out = {}
    for j, col in enumerate(front.columns):
        v = np.full(grid.size, np.nan)
        vals = front.values[ok, j][inside]
        good = np.isfinite(vals)
        v[b[inside][good]] = vals[good]
        out[col] = fill_forward(v)[0]
    return out


def _grid_day(
    files: _DayFiles, services: tuple[str, ...], cfg: TelemetryConfig, report: ReadReport
) -> tuple[Grid, ClockSpan, np.ndarray, np.ndarray, set[str]]:
    span = _clock_span(files, cfg)
    pods = _pod_rows(files, span, cfg, report)
    step = _step_s(pods, cfg)
    grid = Grid(span.lo_s, step, round((span.hi_s - span.lo_s) / step) + 1)
    T, N, M = grid.size, len(services), len(FIELDS)
    fields = np.full((T, N, M), np.nan)
    replicas = np.zeros((T, N), dtype=np.int64)
    dead_errors: set[str] = set()
    for i, s in enumerate(services):
        mine = [p for p in pods if p.service == s]
        if not mine:
            continue
        if all("error_rate" in p.dead for p in mine):
            dead_errors.add(s)
        binned = [bin_rows(p, grid, report) for p in mine]
        present = [np.isfinite(x).any(1) for x in binned]
        _note_pods(s, files.name, mine, present, report)
        fields[:, i] = combine_pods(binned, present)
        replicas[:, i] = np.stack(present).sum(0)
    return grid, span, fields, replicas, dead_errors


def _entry_error_rate(
    entry: dict[str, np.ndarray],
    graph: ServiceGraph,
    dead: set[str],
    fields: np.ndarray,
    report: ReadReport,
    day: str,
) -> None:
    """The entry service's error rate from the entry point's own success rate, when its pods'
    success-rate column is dead. Modifies ``fields`` [T, N, M] in place."""
    col = next((c for c in entry if "success" in c.lower()), None)
    if col is None:
        return
    m = FIELDS.index("error_rate")
    for s in graph.entrypoints:
        if s in dead:
            fields[:, graph.index(s), m] = np.clip(1.0 - entry[col] / 100.0, 0.0, 1.0)
            report.add(
                "missing_column",
                f"{day}/{s}",
                f"error_rate of the entry service taken from front_service.csv {col}",
            )


def read_telemetry(
    root: str | Path, config: TelemetryConfig | None = None, *, graph: ServiceGraph | None = None
) -> Telemetry:
    """Read every day of ``root`` (see module doc); ``graph`` overrides dependency.csv.

    Raises:
        TelemetryError: no day folder, no metric file, or no service with any row.
    """
    cfg = config or TelemetryConfig()
    root = Path(root)
    report = ReadReport()
    loaded = [_load_day(d, root, report) for d in day_folders(root)]
    found = sorted({service_of(pod) for f in loaded for pod, _, _ in f.tables})
    if not found:
        raise TelemetryError(
            f"{root}: no metric file with a usable row (expected <day>/metric/*{_METRIC_SUFFIX})"
        )
    if graph is None:
        entry_names = {n for f in loaded if f.front is not None for n in f.front.names if n}
        edges = [e for f in loaded for e in f.edges]
        graph = build_graph(
            root.name, found, edges, entry_names, report, f"{root.name}/*/metric/dependency.csv"
        )
    else:
        extra = [s for s in found if s not in graph.services]
        for s in extra:
            report.add(
                "missing_service",
                s,
                f"service {s!r} has metrics but is not in graph {graph.name!r}: ignored",
            )
        absent = [s for s in graph.services if s not in found]
        if absent:
            raise TelemetryError(
                f"graph {graph.name!r} names services without any metric file: {absent[:5]}"
            )
    services = graph.services
    gridded = [(f, *_grid_day(f, services, cfg, report)) for f in loaded]
    # a service without rows on a day takes its median over the days that have it
    medians = {}
    for i, s in enumerate(services):
        rows = [g[3][:, i] for g in gridded if np.isfinite(g[3][:, i]).any()]
        pooled = np.concatenate(rows)
        medians[s] = np.nanmedian(pooled, axis=0)  # [M]
    days = []
    for f, grid, span, fields, replicas, dead_errors in gridded:
        observed = np.isfinite(fields).any(-1)  # [T, N]
        for i, s in enumerate(services):
            col = fields[:, i]
            if not observed[:, i].any():
                report.add(
                    "missing_service",
                    f"{f.name}/{s}",
                    "no row on this day: filled with its median over the other days",
                    grid.size,
                )
                fields[:, i] = np.where(np.isfinite(medians[s]), medians[s], 0.0)
                replicas[:, i] = 1
                continue
            gaps = ~observed[:, i]
            if gaps.any():
                runs = np.diff(
                    np.flatnonzero(np.diff(np.concatenate([[0], gaps.astype(int), [0]])))
                )[::2]
                longest = int(runs.max()) if runs.size else 0
                outage = (
                    " (longer than max_fill_steps: a telemetry outage)"
                    if longest > cfg.max_fill_steps
                    else ""
                )
                report.add(
                    "missing_minutes",
                    f"{f.name}/{s}",
                    f"{int(gaps.sum())} interval(s) without a row, longest run {longest}{outage}: last value carried forward",
                    int(gaps.sum()),
                )
            filled, _ = fill_forward(col)
            still = ~np.isfinite(filled)
            if still.any():  # a field never reported on this day
                filled = np.where(
                    still, np.broadcast_to(np.nan_to_num(medians[s]), filled.shape), filled
                )
            fields[:, i] = filled
            rep, _ = fill_forward(np.where(observed[:, i], replicas[:, i], np.nan).astype(float))
            replicas[:, i] = np.nan_to_num(rep, nan=1.0).astype(np.int64)
        low = fields[..., _P99] < fields[..., _P50]
        if low.any():
            report.add(
                "clipped",
                f"{f.name}",
                f"{int(low.sum())} p99 latency value(s) below p50: raised to p50",
                int(low.sum()),
            )
            fields[..., _P99] = np.maximum(fields[..., _P99], fields[..., _P50])
        entry = _entry_series(f.front, grid, span, cfg)
        _entry_error_rate(entry, graph, dead_errors, fields, report, f.name)
        raw_faults = (
            read_fault_list(f.fault_path, report, str(f.fault_path.relative_to(root)))
            if f.fault_path
            else []
        )
        faults = place_faults(
            raw_faults, services, fields, grid, cfg.fault_tolerance_s, report, f.name
        )
        days.append(
            TelemetryDay(
                name=f.name,
                graph=graph,
                times_s=grid.times(),
                step_s=grid.step_s,
                fields=fields,
                replicas=replicas,
                observed=observed,
                entry=entry,
                faults=tuple(faults),
            )
        )
    return Telemetry(name=root.name, graph=graph, days=tuple(days), report=report)
