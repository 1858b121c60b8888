"""The demo's report: what a run produced (:class:`DemoRun`) -> the JSON report, its summary text,
and with an output folder report.json, report.md and the plots.

Percentiles, markdown tables and plots come from :mod:`aither_wm.eval.summary` and
:mod:`aither_wm.eval.plots`, the ones every bench uses. The per-controller block sums the demo's
few episodes (one per fault, one seed): there are no replicates to put an interval on.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aither_wm.apps.presets import DemoSettings
from aither_wm.control.controller import ControlDecision
from aither_wm.eval.plots import plot_cdf, plot_curve, plot_grouped_bars
from aither_wm.eval.summary import markdown_table, percentile
from aither_wm.graph.schema import ServiceGraph

__all__ = ["CONTROLLED", "MODES", "DemoRun", "build_report", "summary_text"]

#: Every controller an episode is played under, in report order.
MODES = ("cem", "mcts", "autoheal", "baseline")
#: The controllers that ask the planners (the baseline is the reactive runbook).
CONTROLLED = ("cem", "mcts", "autoheal")
PLANNERS = ("cem", "mcts")


@dataclass(frozen=True)
class DemoRun:
    """What one demo run produced.

    Attributes:
        graph: the topology.
        settings: its sizes.
        quick: whether it was the quick run.
        seed: its seed.
        host: the Ray host summary (``RayHost.info``).
        versions: weights version of each planner after the sync.
        training: the trainer's summary of its run (with ``history``, the loss per step).
        results: controller -> one score dict per episode (``fault``, ``target``, the scores of
            :func:`~aither_wm.sim.slo.score_episode`).
        decisions: controller -> its decisions, in order (empty for the baseline).
        timings: phase -> wall seconds.
    """

    graph: ServiceGraph
    settings: DemoSettings
    quick: bool
    seed: int
    host: dict[str, Any]
    versions: dict[str, Any]
    training: dict[str, Any]
    results: dict[str, list[dict[str, Any]]]
    decisions: dict[str, list[ControlDecision]]
    timings: dict[str, float]

    def every_decision(self) -> list[ControlDecision]:
        """The decisions of the controllers that asked the planners."""
        return [d for m in CONTROLLED for d in self.decisions[m]]

    def round_trips_ms(self) -> dict[str, list[float]]:
        """Planner -> round trips (ms) of its answered requests, over every decision."""
        return {
            name: [
                o.round_trip_ms
                for d in self.every_decision()
                if (o := d.outcomes.get(name)) is not None
                and o.status == "ok"
                and o.round_trip_ms is not None
            ]
            for name in PLANNERS
        }


def _round(x: Any, nd: int = 3) -> Any:
    return round(x, nd) if isinstance(x, float) else x


def _mode_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    mitigated = [r["time_to_mitigate_s"] for r in rows if r["time_to_mitigate_s"] is not None]
    return {
        "episodes": len(rows),
        "slo_violation_minutes": round(sum(r["slo_violation_minutes"] for r in rows), 3),
        "slo_violation_minutes_per_episode": round(
            statistics.fmean(r["slo_violation_minutes"] for r in rows), 3
        ),
        "mean_availability": round(statistics.fmean(r["mean_availability"] for r in rows), 5),
        "actions": sum(r["actions"] for r in rows),
        "wrong_actions": sum(r["wrong_actions"] for r in rows),
        "harmful_actions": sum(r["harmful_actions"] for r in rows),
        "mitigated": len(mitigated),
        "mean_time_to_mitigate_s": round(statistics.fmean(mitigated), 1) if mitigated else None,
        "per_episode": [{k: _round(v) for k, v in r.items()} for r in rows],
    }


def _fraction(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _agreement(run: DemoRun) -> dict[str, Any]:
    every = run.every_decision()
    both = [d for d in every if d.agreement is not None]
    acting = [
        d
        for d in both
        if any(o.reply is not None and o.reply.first_action != 0 for o in d.outcomes.values())
    ]
    return {
        "decisions": len(every),
        "both_answered": len(both),
        "first_action_agreement": _fraction([bool(d.agreement) for d in both]),
        "agreement_when_either_acts": _fraction([bool(d.agreement) for d in acting]),
        "either_acts": len(acting),
    }


def _planner(run: DemoRun, name: str, agreement: float | None) -> dict[str, Any]:
    outs = [d.outcomes[name] for d in run.every_decision() if name in d.outcomes]
    rtt = run.round_trips_ms()[name]
    search = [o.reply.search_ms for o in outs if o.reply is not None]
    mine, auto = run.decisions[name], run.decisions["autoheal"]
    return {
        **_mode_summary(run.results[name]),
        "latency_ms": {
            "p50": _round(percentile(rtt, 0.5), 2),
            "p95": _round(percentile(rtt, 0.95), 2),
            "search_p50": _round(percentile(search, 0.5), 2),
            "n": len(rtt),
        },
        "statuses": {
            st: sum(o.status == st for o in outs) for st in ("ok", "error", "timeout", "busy")
        },
        "chosen_in_own_mode": sum(d.chosen == name for d in mine),
        "fallbacks_in_own_mode": sum(d.chosen == "fallback" for d in mine),
        "guard_refusals_in_own_mode": sum(not d.verdict.allowed for d in mine),
        "chosen_by_autoheal": sum(d.chosen == name for d in auto),
        "agreement": agreement,
        "weights_version": run.versions.get(name),
    }


def _report(run: DemoRun) -> dict[str, Any]:
    s, auto = run.settings, run.decisions["autoheal"]
    agreement = _agreement(run)
    latency = [d.latency_ms for d in run.every_decision()]
    return {
        "graph": run.graph.name,
        "services": run.graph.num_services,
        "quick": run.quick,
        "seed": run.seed,
        "ray": run.host,
        "training": {k: v for k, v in run.training.items() if k != "history"},
        "planners": {n: _planner(run, n, agreement["first_action_agreement"]) for n in PLANNERS},
        "autoheal": {
            **_mode_summary(run.results["autoheal"]),
            "fallbacks": sum(d.chosen == "fallback" for d in auto),
            "guard_refusals": sum(not d.verdict.allowed for d in auto),
        },
        "baseline": {"policy": "reactive", **_mode_summary(run.results["baseline"])},
        "agreement": agreement,
        "decision_latency_ms": {
            "p50": _round(percentile(latency, 0.5), 2),
            "p95": _round(percentile(latency, 0.95), 2),
        },
        "settings": {
            "faults": list(s.faults),
            "episode_steps": s.episode_steps,
            "onset_step": s.onset_step,
            "transitions": run.training.get("transitions"),
            "train_steps": s.train.steps,
            "guard": s.guard.model_dump(),
            "cem": s.cem,
            "mcts": s.mcts,
        },
        "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
    }


def build_report(run: DemoRun, *, out: Path | None, started: float) -> dict[str, Any]:
    """The report (JSON-safe); with ``out``, also its files (``files`` lists them).

    ``started``: the run's ``time.perf_counter()`` at its start (for ``wall_s``).
    """
    report = _report(run)
    report["wall_s"] = round(time.perf_counter() - started, 2)
    if out is not None:
        report["files"] = _write(out, report, run)
    report["summary_text"] = summary_text(report)
    return report


#: What the report's columns and rows mean (printed under the table).
LEGEND = (
    "cem / mcts: the controller acting on that planner's plan; autoheal: the controller picking "
    "the lower predicted cost of both; baseline: the reactive runbook (rules, no model).",
    "SLO-viol. min: minutes the SLO was violated; mitigated: episodes whose SLO held again; "
    "wrong: actions with no effect on the fault, or taken with no fault (false positive); "
    "harmful: actions that made the fault worse (the simulator's fault -> remedy table).",
)


def summary_text(r: dict[str, Any]) -> str:
    """The report in a few lines: one row per controller, latencies, agreement."""
    pl, tr, a = r["planners"], r["training"], r["agreement"]
    rows = [
        ("cem", pl["cem"]),
        ("mcts", pl["mcts"]),
        ("autoheal", r["autoheal"]),
        ("baseline", r["baseline"]),
    ]
    kind = "quick" if r["quick"] else "full"
    head = f"{'controller':<10} {'SLO-viol. min':>13} {'mitigated':>9} {'actions':>7}"
    lines = [
        f"aither-wm demo on {r['graph']} ({r['services']} services), {kind}, seed {r['seed']}: "
        f"{r['wall_s']} s",
        f"training: {tr['steps']} steps on {tr['transitions']} transitions in {tr['seconds']} s "
        f"(version {tr['version']})",
        "",
        f"{head} {'wrong':>5} {'harmful':>7}",
    ]
    for name, m in rows:
        lines.append(
            f"{name:<10} {m['slo_violation_minutes']:>13.2f} "
            f"{m['mitigated']:>6}/{m['episodes']:<2} {m['actions']:>7} "
            f"{m['wrong_actions']:>5} {m['harmful_actions']:>7}"
        )
    lat = {n: pl[n]["latency_ms"] for n in PLANNERS}
    dec = r["decision_latency_ms"]
    lines += [
        "",
        f"planner latency (round trip): cem p50 {lat['cem']['p50']} ms / p95 "
        f"{lat['cem']['p95']} ms; mcts p50 {lat['mcts']['p50']} ms / p95 {lat['mcts']['p95']} ms",
        f"controller decision (both planners): p50 {dec['p50']} ms, p95 {dec['p95']} ms",
        f"agreement on the first action: {a['first_action_agreement']} over {a['both_answered']} "
        f"decisions ({a['agreement_when_either_acts']} when either acts)",
    ]
    lines += ["", *LEGEND]
    best = min(m["slo_violation_minutes"] for name, m in rows if name != "baseline")
    if best > r["baseline"]["slo_violation_minutes"]:
        lines.append(
            f"The planners lost to the runbook on this run: they plan with a world model trained "
            f"{tr['steps']} steps, whose predicted effect of an action is barely better than "
            f"'nothing changes' (README, \"Where it falls short\"); the runbook encodes the "
            f"fault -> remedy table directly."
        )
    if r.get("files"):
        lines.append(f"written: {', '.join(sorted(r['files']))} in {r['files'].get('dir')}")
    return "\n".join(lines)


def _per_episode(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        m: (report["planners"][m] if m in PLANNERS else report[m])["per_episode"] for m in MODES
    }


def _write(out: Path, report: dict[str, Any], run: DemoRun) -> dict[str, str]:
    files = {"dir": str(out)}
    (out / "report.json").write_text(
        json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8"
    )
    files["report.json"] = "report.json"
    files.update(_plots(out, report, run))
    text = summary_text({**report, "files": None})
    per = _per_episode(report)
    rows = [
        [row["fault"], row["target"]]
        + [f"{per[m][i]['slo_violation_minutes']:.2f} / {per[m][i]['actions']}" for m in MODES]
        for i, row in enumerate(per["cem"])
    ]
    md = [
        "# aither-wm demo",
        "",
        "```",
        text,
        "```",
        "",
        "Per episode (SLO-violation minutes / actions):",
        "",
        *markdown_table(["fault", "target", *MODES], rows),
        "",
        *[f"![{p}]({p})" for p in sorted(files) if p.endswith(".png")],
        "",
    ]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    files["report.md"] = "report.md"
    if (out / "world_model.pt").is_file():
        files["checkpoint"] = "world_model.pt"
    if (out / "audit.jsonl").is_file():
        files["audit"] = "audit.jsonl"
    return files


def _plots(out: Path, report: dict[str, Any], run: DemoRun) -> dict[str, str]:
    per = _per_episode(report)
    names = [
        plot_grouped_bars(
            out / "slo_minutes.png",
            [r["fault"] for r in per["cem"]],
            {m: [r["slo_violation_minutes"] for r in per[m]] for m in MODES},
            ylabel="SLO-violation minutes",
            title="SLO violation per injected fault",
        ),
        plot_cdf(
            out / "planner_latency.png",
            run.round_trips_ms(),
            xlabel="plan round trip through the actor, ms",
            title="planner latency (CDF)",
        ),
    ]
    history = run.training.get("history", [])
    if history:
        names.append(
            plot_curve(
                out / "training_loss.png",
                history,
                xlabel="step",
                ylabel="training loss (pred + lambda * SIGReg)",
                title="world model training",
            )
        )
    return {n: n for n in names}
