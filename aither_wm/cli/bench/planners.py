"""``aither-wm bench planners``: CEM, MCTS and beam on a trained model: latency and regret
(:func:`aither_wm.bench.planners_model.run_planners_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "planners", fn=run, help="CEM, MCTS and beam on a trained model")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--checkpoint", default=None, help="a trained model (default: train one)")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.planners_model import run_planners_bench

    emit(args, run_planners_bench(Path(args.graph), checkpoint=args.checkpoint, seed=args.seed))
