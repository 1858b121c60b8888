"""``aither-wm bench worldmodel``: world-model quality on held-out simulated episodes
(:func:`aither_wm.bench.worldmodel.run_worldmodel_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(
        sub, "worldmodel", fn=run, help="world-model quality on held-out simulated episodes"
    )
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--steps", type=int, default=300, help="training steps")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.worldmodel import format_worldmodel, run_worldmodel_bench
    from aither_wm.config import TrainConfig
    from aither_wm.progress import TqdmProgress, count_steps

    with TqdmProgress("worldmodel") as progress:
        result = run_worldmodel_bench(
            Path(args.graph),
            seed=args.seed,
            train_config=TrainConfig(steps=args.steps, seed=args.seed),
            progress=count_steps(progress, "train", args.steps),
        )
    emit(args, result, format_worldmodel)
