"""Measure the MaskablePPO peer (``aither_wm.eval.ppo``) on the autoheal bench's scenarios.

For each graph: the world model's environment-step budget under the FULL recipe (its
counterfactual candidates counted on a sample of the recipe's own branch episodes and scaled to
all of them), then MaskablePPO trained for each ``--steps`` budget (``played``: the steps of the
recipe's episodes; ``total``: with the counterfactual rollouts; or a number), then ppo, noop and reactive on
the full bench's scenarios (``make_scenarios(seed=0, seeds=5, faults=[None, *FAULT_NAMES],
steps=36, onset_step=3)``), summarised as the bench summarises.

    .venv/bin/python scripts/ppo_peer.py --graph deathstarbench-socialnetwork \\
        --steps played total --out runs/ppo

Writes ``<out>/<graph>.json``; prints one markdown block per graph. Torch runs on one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from aither_wm.bench.autoheal import FULL
from aither_wm.bench.control_model import FULL_RECIPE
from aither_wm.eval.counterfactual import RunbookExplore, branch_episodes
from aither_wm.eval.data import training_scenarios
from aither_wm.eval.episodes import NoopEpisodePolicy, make_scenarios, run_scenario
from aither_wm.eval.policies import ReactiveEpisodePolicy
from aither_wm.eval.ppo import PPOEpisodePolicy, branch_rows, train_ppo, world_model_env_steps
from aither_wm.eval.summary import summarize
from aither_wm.graph.schema import load_graph
from aither_wm.graph.shipped import resolve_graph
from aither_wm.sim.faults import FAULT_NAMES


def count_candidates(graph: Any, every_nth: int) -> tuple[int, int]:
    """(candidates scaled to all branch episodes, candidates in the sample) of the FULL recipe on
    ``graph`` with the bench's seed 0 (``control_data``: branch scenarios from seed 1)."""
    r = FULL_RECIPE
    scen = training_scenarios(
        seed=1, episodes=r.branch_episodes, steps=r.episode_steps, faults=list(FAULT_NAMES)
    )
    sample = scen[::every_nth]
    sets = branch_episodes(
        graph,
        sample,
        behaviour=RunbookExplore(),
        every=r.branch_every,
        horizon=r.model.value_horizon,
        bases=r.bases,
        workers=1,
    )
    rows = branch_rows(sets)
    return round(rows * len(scen) / len(sample)), rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--graph", required=True)
    ap.add_argument(
        "--steps", nargs="+", required=True, help="budgets: an int, 'played' or 'total'"
    )
    ap.add_argument("--sample-every", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("runs/ppo"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    graph = load_graph(resolve_graph(a.graph))
    report: dict[str, Any] = {"graph": graph.name}

    t = time.perf_counter()
    candidates, sampled = count_candidates(graph, a.sample_every)
    budget = world_model_env_steps(FULL_RECIPE, candidates=candidates)
    report["budget"] = {
        "labelled_steps": budget.labelled_steps,
        "branch_episode_steps": budget.branch_episode_steps,
        "counterfactual_steps": budget.counterfactual_steps,
        "played_steps": budget.played_steps,
        "total_steps": budget.total_steps,
        "candidates": candidates,
        "sampled_candidates": sampled,
        "sample_every": a.sample_every,
        "seconds": round(time.perf_counter() - t, 1),
    }
    print(json.dumps(report["budget"]), file=sys.stderr)

    scenarios = make_scenarios(
        seed=0,
        seeds=FULL.seeds,
        faults=[None, *FAULT_NAMES],
        steps=FULL.episode_steps,
        episodes=FULL.episodes,
        onset_step=FULL.onset_step,
    )
    base = [NoopEpisodePolicy(), ReactiveEpisodePolicy(graph)]
    records = [run_scenario(graph, s, p) for p in base for s in scenarios]
    report["runs"] = []
    named = {"played": budget.played_steps, "total": budget.total_steps}
    for ref in a.steps:
        steps = named[ref] if ref in named else int(ref)
        model, info = train_ppo(graph, {"total_steps": steps, "seed": 0})
        print(json.dumps({k: v for k, v in info.items() if k != "config"}), file=sys.stderr)
        policy = PPOEpisodePolicy(graph, model)
        policy.name = f"ppo_{steps // 1000}k"
        t = time.perf_counter()
        mine = [run_scenario(graph, s, policy) for s in scenarios]
        info["episodes_s"] = round(time.perf_counter() - t, 1)
        records += mine
        report["runs"].append({"name": policy.name, **info})
    summary = summarize(records)
    report["summary"] = summary
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{graph.name}.json").write_text(json.dumps(report, indent=1, default=str))

    def cell(block: dict[str, Any] | None) -> str:
        if not block:
            return "-"
        lo, hi = block["ci95"]
        return f"{block['mean']:.2f} [{lo:.2f}, {hi:.2f}]"

    print(f"\n### {graph.name}\n")
    print("| policy | SLO-violation min/episode | wrong or harmful / episode | harmful / episode "
          "| fault-free actions | vs reactive (min) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, b in summary["policies"].items():
        vs = summary.get("vs_reactive", {}).get(name)
        print(
            f"| {name} | {cell(b['slo_violation_minutes'])} | "
            f"{cell(b['wrong_or_harmful_actions'])} | {cell(b['harmful_actions'])} | "
            f"{cell(b['fault_free_actions'])} | {cell(vs) if isinstance(vs, dict) else '-'} |"
        )


if __name__ == "__main__":
    main()
