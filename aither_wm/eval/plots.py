"""Report plots (matplotlib, Agg backend; PNG files): SLO minutes per policy and fault type with
95 % intervals, lead-time distributions, decision latency, and rollout calibration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_report"]


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


def _slo_by_fault(out: Path, summary: Mapping[str, Any], name: str, title: str) -> str:
    plt = _plt()
    by = summary["by_fault"]
    faults = list(by)
    policies = list(summary["policies"])
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(faults) + 2), 4.5))
    width = 0.8 / max(1, len(policies))
    for j, p in enumerate(policies):
        xs = [i + (j - (len(policies) - 1) / 2) * width for i in range(len(faults))]
        vals = [_err((by[f].get(p) or {}).get("slo_violation_minutes")) for f in faults]
        ax.bar(
            xs,
            [v[0] for v in vals],
            width,
            yerr=[[v[1] for v in vals], [v[2] for v in vals]],
            capsize=2,
            label=p,
        )
    ax.set_xticks(range(len(faults)), faults, rotation=30, ha="right")
    ax.set_ylabel("SLO-violation minutes per episode")
    ax.set_title(title)
    ax.legend(ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    return name


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
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in records_ms.items():
        if values:
            s = sorted(values)
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("decision wall time, ms (controller + planner, in-process)")
    ax.set_ylabel("fraction of decisions")
    ax.set_title("decision latency (CDF)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "decision_latency.png", dpi=110)
    plt.close(fig)
    return "decision_latency.png"


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
