"""``aither-wm bench decisions``: the control model's exam on held-out states.

Trains the control model (:mod:`aither_wm.bench.control_model`), then at held-out faulted states
(episodes played by the runbook, seeds disjoint from training, every ``every``-th step from the
fault's onset) branches EVERY valid action on simulator clones over the value horizon and scores
(:mod:`aither_wm.eval.decisions`): the raw model's ranking (horizon 1: action cost + value of the
predicted next tokens), and the first actions of CEM and MCTS planning with the value objective;
beside always-wait and the runbook. Per fault type and overall: hit rate, regret, Spearman.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aither_wm.bench.control_model import (
    FULL_RECIPE,
    PLANNERS,
    QUICK_RECIPE,
    ControlRecipe,
    train_control,
)
from aither_wm.control.planners import PlannerService, PlanRequest
from aither_wm.eval.counterfactual import BranchSet, branch_episodes
from aither_wm.eval.data import training_scenarios
from aither_wm.eval.decisions import exam, model_scores
from aither_wm.eval.selection import NEVER
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.models.control_model import ControlModel
from aither_wm.sim.faults import FAULT_NAMES

__all__ = ["PLANNERS", "format_decisions", "run_decisions_bench"]


def exam_sets(
    graph: ServiceGraph, recipe: ControlRecipe, *, seed: int, episodes: int, every: int
) -> list[BranchSet]:
    """Held-out faulted states with every valid action branched (horizon and continuation of
    the recipe's value)."""
    scen = training_scenarios(
        seed=seed + 50_000, episodes=episodes, steps=40, faults=list(FAULT_NAMES)
    )
    sets = branch_episodes(
        graph, scen, behaviour=None, every=every, horizon=recipe.model.value_horizon,
        every_action=True, bases=recipe.bases, workers=recipe.workers, fault_free_states=1,
    )  # fmt: skip
    return sets


def planner_picks(
    model: ControlModel, graph: ServiceGraph, sets: list[BranchSet], kind: str, seed: int
) -> list[int]:
    svc = PlannerService(
        kind, model_config=model.config, graphs=[graph], planner_config=PLANNERS[kind]
    )
    svc.load_weights(1, model.state_dict())
    return [
        svc.plan(PlanRequest(state=b.state, seed=seed + i, reset=True)).first_action
        for i, b in enumerate(sets)
    ]


def run_decisions_bench(
    graph_path: Path | str,
    *,
    seed: int = 0,
    quick: bool = False,
    recipe: ControlRecipe | None = None,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train, branch held-out states, score; returns the report as a dict."""
    started = time.perf_counter()
    graph = load_graph(graph_path)
    r = recipe or (QUICK_RECIPE if quick else FULL_RECIPE)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, training = train_control([graph], r, seed)
        if progress:
            progress("trained", {"seconds": training["fit_s"]})
        t = time.perf_counter()
        sets = exam_sets(graph, r, seed=seed, episodes=6 if quick else 24, every=6)
        exam_s = time.perf_counter() - t
        report: dict[str, Any] = {
            "graph": graph.name,
            "quick": quick,
            "seed": seed,
            "states": len(sets),
            "candidates_per_state": round(sum(len(b.actions) for b in sets) / max(1, len(sets)), 1),
            "model": exam(graph, sets, scores=model_scores(model, graph, sets)),
        }
        for kind in PLANNERS:
            report[kind] = exam(graph, sets, picks=planner_picks(model, graph, sets, kind, seed))
    finally:
        torch.set_num_threads(threads)
    report["training"] = training
    report["timings_s"] = {"branch_exam_states": round(exam_s, 1)}
    report["wall_s"] = round(time.perf_counter() - started, 1)
    return report


def format_decisions(r: dict[str, Any]) -> str:
    """The report as markdown."""

    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    out = [
        f"## {r['graph']}: {r['states']} held-out states, {r['candidates_per_state']} candidates "
        f"each (every valid action), wall {r['wall_s']} s",
        "",
        "| fault | n | model hit | model regret | model Spearman | CEM hit | MCTS hit | runbook hit "
        "| runbook regret | wait hit | wait regret |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    m = r["model"]
    rows = [*m["by_fault"].items(), ("faulted", m["faulted"]), ("overall", m["overall"])]
    for f, row in rows:
        if row is None:
            continue
        c = (r["cem"]["by_fault"].get(f) if f in r["cem"]["by_fault"] else r["cem"].get(f)) or {}
        k = (r["mcts"]["by_fault"].get(f) if f in r["mcts"]["by_fault"] else r["mcts"].get(f)) or {}
        out.append(
            f"| {f} | {row['n']} | {cell(row['hit_rate'])} | {cell(row['regret'])} | "
            f"{cell(row['spearman'])} | {cell(c.get('hit_rate'))} | {cell(k.get('hit_rate'))} | "
            f"{cell(row['runbook_hit_rate'])} | {cell(row['runbook_regret'])} | "
            f"{cell(row['noop_hit_rate'])} | {cell(row['noop_regret'])} |"
        )
    cal = r.get("training", {}).get("calibration") or {}
    for key, table, where in (
        ("min_improvement", "table", "where the runbook acts"),
        ("min_improvement_wait", "table_wait", "where the runbook waits"),
    ):
        if key not in cal:
            continue
        if "selection" in cal:
            if key == "min_improvement":
                out += ["", _selection_line(cal)]
            continue
        kept = next(t for t in cal[table] if t["tau"] == cal[key])
        out += [
            "",
            f"Calibrated {key}: {cal[key]:g} violation-steps (on {cal['states']} other "
            f"held-out states, the model's deviations from the runbook {where} with at least "
            f"that predicted gain: {kept['kept']}, truly better in {cell(kept['precision'])} "
            "of them).",
        ]
    return "\n".join(out)


def _selection_line(cal: dict[str, Any]) -> str:
    """The closed-loop selection of both thresholds in one sentence."""

    def say(tau: float) -> str:
        return "never" if tau >= NEVER else f"{tau:g}"

    picked = (cal["min_improvement"], cal["min_improvement_wait"])
    base, *rows = cal["selection"]
    pick = next(r for r in rows if tuple(r["setting"]) == picked)
    return (
        f"Selected in closed loop on held-out scenarios: min_improvement "
        f"{say(cal['min_improvement'])}, min_improvement_wait {say(cal['min_improvement_wait'])} "
        f"(violation-steps; never: keep the runbook's proposal): {pick['slo_violation_minutes']:.3f} "
        f"SLO-violation min/episode and {pick['wrong_or_harmful_actions']:.2f} wrong or harmful "
        f"actions against the runbook's {base['slo_violation_minutes']:.3f} and "
        f"{base['wrong_or_harmful_actions']:.2f} (open-loop calibration: {cal.get('open_loop')})."
    )
