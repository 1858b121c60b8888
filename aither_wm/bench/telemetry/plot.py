"""One figure per fold: the entry point's latency with injections, detections and false alarms
on one time axis (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aither_wm.eval.plots import _plt
from aither_wm.telemetry import TelemetryDay

__all__ = ["entry_latency", "plot_fold"]


def entry_latency(day: TelemetryDay) -> tuple[str, np.ndarray]:
    """The entry point's latency series to draw (a p90 column when there is one) in ms, or the
    mean of the services' p99 latency fields when the layout has no entry-point file."""
    cols = [c for c in day.entry if "latency" in c.lower()]
    pick = next((c for c in cols if "90" in c), cols[0] if cols else None)
    if pick is not None:
        scale = 1000.0 if "(s)" in pick else 1.0
        return f"entry point {pick.replace('(s)', '')} (ms)", day.entry[pick] * scale
    from aither_wm.telemetry import FIELDS

    return "mean service p99 latency (ms)", day.fields[..., FIELDS.index("latency_p99_ms")].mean(1)


def plot_fold(
    path: Path,
    day: TelemetryDay,
    onsets: Sequence[int],
    detected: Sequence[bool],
    detections: Sequence[int],
    false_alarms: Sequence[int],
    title: str,
) -> str:
    """Write the fold's figure to ``path``; returns its file name."""
    plt = _plt()
    label, lat = entry_latency(day)
    hours = (day.times_s - day.times_s[0]) / 3600.0
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.plot(hours, lat, lw=0.7, color="0.3", label=label)
    top = float(np.nanmax(lat)) if lat.size else 1.0
    for b, hit in zip(onsets, detected, strict=True):
        ax.axvline(hours[min(b, len(hours) - 1)], color="tab:green" if hit else "tab:red",
                   lw=0.8, alpha=0.6, label="injection (detected)" if hit else "injection (missed)")  # fmt: skip
    if detections:
        ax.scatter(hours[list(detections)], [top * 1.02] * len(detections), marker="v",
                   color="tab:blue", s=18, label="detection")  # fmt: skip
    if false_alarms:
        ax.scatter(hours[list(false_alarms)], [top * 1.06] * len(false_alarms), marker="x",
                   color="tab:orange", s=22, label="false alarm")  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    ax.legend(uniq.values(), uniq.keys(), loc="upper right", fontsize=8)
    ax.set_xlabel(f"hours since {day.name} start")
    ax.set_ylabel(label)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
