"""``aither-wm bench ablation``: the collapse ablation (SIGReg, EMA + stop-grad, none, VICReg) on
simulated transitions (:func:`aither_wm.bench.ablation.run_ablation`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
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
    p = new_command(sub, "ablation", fn=run, help="the collapse ablation on simulator data")
    add_graph(p)
    add_seed(p)
    add_json(p)
    add_data_flags(p, transitions_steps=3000, log=False)
    p.add_argument("--steps", type=int, default=300, help="training steps of each setup")


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.train import load_dataset
    from aither_wm.bench.ablation import format_ablation, run_ablation
    from aither_wm.config import TrainConfig
    from aither_wm.progress import TqdmProgress, count_steps

    graph = graph_of(args)
    data = load_dataset(
        graph, source=args.source, steps=args.transitions_steps, seed=args.seed, warn=warn
    )
    with TqdmProgress("ablation") as progress:
        counters: dict[str, Callable[[Any], None]] = {}

        def on_step(setup: str, info: Any) -> None:
            counters.setdefault(setup, count_steps(progress, setup, args.steps))(info)

        cfg = TrainConfig(steps=args.steps, seed=args.seed)
        result = run_ablation(graph, data, train_config=cfg, progress=on_step)
    emit(args, result, format_ablation)
