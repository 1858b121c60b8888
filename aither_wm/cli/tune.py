"""``aither-wm tune lambda``: log-scale bisection of lambda, trials as parallel Ray tasks
(:func:`aither_wm.apps.tune.tune_lambda_on_ray`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aither_wm.cli.common import (
    Subparsers,
    add_graph,
    add_json,
    add_seed,
    emit,
    graph_of,
    new_command,
    warn,
)
from aither_wm.cli.train import add_data_flags


def register(sub: Subparsers) -> None:
    from aither_wm.apps import defaults as d

    t = new_command(sub, "tune", help="tune the world model's hyperparameter")
    t_sub = t.add_subparsers(dest="tune_what", required=True, metavar="{lambda}")
    p = new_command(
        t_sub, "lambda", fn=run, help="log-scale bisection of lambda, trials as parallel Ray tasks"
    )
    add_graph(p)
    add_seed(p)
    add_json(p)
    add_data_flags(p, transitions_steps=d.TUNE_TRANSITIONS_STEPS, log=True)
    p.add_argument("--steps", type=int, default=d.TUNE_TRIAL_STEPS, help="training steps per trial")
    p.add_argument("--trials", type=int, default=d.TUNE_MAX_TRIALS, help="trials in all")
    p.add_argument(
        "--parallel", type=int, default=d.TUNE_PARALLEL, help="trials per round (Ray tasks at once)"
    )


def _text(r: dict[str, Any]) -> str:
    rows = [
        f"{t['lam']:>9.4g}  {t['verdict']:<15} ratio {t['ratio']:.3f}  rank {t['effective_rank']:.1f}"
        f"  train SIGReg {t['train_sigreg']:.2f}"
        for t in r["trials"]
    ]
    verdict = "accepted" if r["accepted"] else "no trial passed; best score"
    return "\n".join([*rows, f"pick: lambda = {r['pick']:.4g} ({verdict})"])


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.tune import tune_lambda_on_ray
    from aither_wm.config import TrainConfig
    from aither_wm.train.sources import load_transitions

    graph = graph_of(args)
    log = Path(args.transitions) if args.transitions else None
    trs = load_transitions(
        graph, log=log, source=args.source, steps=args.transitions_steps, seed=args.seed, warn=warn
    )
    result = tune_lambda_on_ray(
        graph,
        trs,
        train_config=TrainConfig(steps=args.steps, seed=args.seed),
        max_trials=args.trials,
        parallel=args.parallel,
    )
    emit(args, result, _text)
