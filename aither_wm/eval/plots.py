"""Report plots (matplotlib, Agg backend; PNG files): SLO minutes per policy and fault type with
95 % intervals, lead-time distributions, decision latency, and rollout calibration.

:func:`plot_grouped_bars`, :func:`plot_cdf` and :func:`plot_curve` are the shared building blocks
(the bench report and the demo report draw with them); :func:`plot_report` is the bench's set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_cdf", "plot_curve", "plot_grouped_bars", "plot_report"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _err(block: Mapping[str, Any] | None) -> tuple[float, float, float]:
    if not block:
        return 0.0, 0.0, 0.0
    m = float(block["mean"])
    lo, hi = block["ci95"]
    return m, (m - lo) if lo is not None else 0.0, (hi - m) if hi is not None else 0.0


def plot_grouped_bars(
    path: Path,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    ylabel: str,
    title: str,
    errors: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    figsize: tuple[float, float] = (8, 4),
    rotation: float = 15,
    tick_ha: str = "center",
    legend: Mapping[str, Any] | None = None,
) -> str:
    """One bar per series in each group (e.g. per policy for each fault); ``errors`` gives a
    series' (below, above) error bars. Writes ``path``; returns its file name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=figsize)
    width = 0.8 / max(1, len(series))
    for j, (label, values) in enumerate(series.items()):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(groups))]
        err = (errors or {}).get(label)
        if err is None:
            ax.bar(xs, list(values), width, label=label)
        else:
            ax.bar(
                xs, list(values), width, yerr=[list(err[0]), list(err[1])], capsize=2, label=label
            )
    ax.set_xticks(range(len(groups)), list(groups), rotation=rotation, ha=tick_ha)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(**dict(legend or {}))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_cdf(
    path: Path,
    values: Mapping[str, Sequence[float]],
    *,
    xlabel: str,
    title: str,
    log_x: bool = False,
) -> str:
    """The empirical CDF of each named sample (an empty one is left out). Writes ``path``;
    returns its file name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, v in values.items():
        if v:
            s = sorted(v)
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=name)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of decisions")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def plot_curve(path: Path, values: Sequence[float], *, xlabel: str, ylabel: str, title: str) -> str:
    """``values`` against 1, 2, ... on a log y axis (a loss curve). Writes ``path``; returns its
    file name."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(values) + 1), list(values))
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def _slo_by_fault(out: Path, summary: Mapping[str, Any], name: str, title: str) -> str:
    by = summary["by_fault"]
    faults = list(by)
    policies = list(summary["policies"])
    blocks = {
        p: [_err((by[f].get(p) or {}).get("slo_violation_minutes")) for f in faults]
        for p in policies
    }
    return plot_grouped_bars(
        out / name,
        faults,
        {p: [v[0] for v in vals] for p, vals in blocks.items()},
        errors={p: ([v[1] for v in vals], [v[2] for v in vals]) for p, vals in blocks.items()},
        ylabel="SLO-violation minutes per episode",
        title=title,
        figsize=(max(8, 1.1 * len(faults) + 2), 4.5),
        rotation=30,
        tick_ha="right",
        legend={"ncol": 3, "fontsize": 8},
    )


def _overall(out: Path, summary: Mapping[str, Any]) -> str:
    plt = _plt()
    pol = summary["policies"]
    names = list(pol)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, metric, label in zip(
        axes,
        ("slo_violation_minutes", "wrong_or_harmful_actions", "fault_free_actions"),
        (
            "SLO-violation min / episode",
            "wrong or harmful actions / episode",
            "actions / fault-free ep.",
        ),
        strict=True,
    ):
        vals = [_err(pol[n].get(metric)) for n in names]
        ax.bar(
            names,
            [v[0] for v in vals],
            yerr=[[v[1] for v in vals], [v[2] for v in vals]],
            capsize=3,
        )
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out / "policies.png", dpi=110)
    plt.close(fig)
    return "policies.png"


def _lead_times(out: Path, lead: Mapping[str, Sequence[float]]) -> str:
    plt = _plt()
    names = [n for n, v in lead.items() if v]
    fig, ax = plt.subplots(figsize=(7, 4))
    if names:
        ax.boxplot([list(lead[n]) for n in names], tick_labels=names, showmeans=True)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.tick_params(axis="x", rotation=30)
    ax.set_ylabel("first breach - first fixing action, s (> 0: fixed ahead)")
    ax.set_title("lead time of the first fix before the SLO breach")
    fig.tight_layout()
    fig.savefig(out / "lead_times.png", dpi=110)
    plt.close(fig)
    return "lead_times.png"


def _latency(out: Path, records_ms: Mapping[str, Sequence[float]]) -> str:
    return plot_cdf(
        out / "decision_latency.png",
        records_ms,
        xlabel="decision wall time, ms (controller + planner, in-process)",
        title="decision latency (CDF)",
        log_x=True,
    )


def _calibration(out: Path, brier: Mapping[str, Sequence[float]]) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in brier.items():
        ax.plot(range(len(values)), values, marker="o", label=name)
    ax.set_xlabel("rollout step (0: the encoded current state)")
    ax.set_ylabel("Brier score of P(SLO violated)")
    ax.set_title("health read from open-loop latent rollouts (held out)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "rollout_brier.png", dpi=110)
    plt.close(fig)
    return "rollout_brier.png"


def plot_report(
    out: Path,
    summary: Mapping[str, Any],
    *,
    decision_ms: Mapping[str, Sequence[float]],
    extra_summaries: Mapping[str, Mapping[str, Any]] | None = None,
    rollout_brier: Mapping[str, Sequence[float]] | None = None,
) -> list[str]:
    """Write the plots into ``out``; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    files = [
        _slo_by_fault(
            out, summary, "slo_by_fault.png", "SLO violation per fault type (95 % CI over seeds)"
        ),
        _overall(out, summary),
        _lead_times(out, summary["lead_times_s"]),
        _latency(out, decision_ms),
    ]
    for key, s in (extra_summaries or {}).items():
        files.append(
            _slo_by_fault(out, s, f"slo_by_fault_{key}.png", f"SLO violation per fault type: {key}")
        )
    if rollout_brier:
        files.append(_calibration(out, rollout_brier))
    return files
