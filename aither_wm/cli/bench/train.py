"""``aither-wm bench train``: the cost of a training step with and without SIGReg
(:func:`aither_wm.bench.train.run_train_bench`)."""

from __future__ import annotations

import argparse

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
    p = new_command(sub, "train", fn=run, help="training step time with and without SIGReg")
    add_graph(p)
    add_seed(p)
    add_json(p)
    add_data_flags(p, transitions_steps=3000, log=False)


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.train import load_dataset
    from aither_wm.bench.train import run_train_bench

    graph = graph_of(args)
    data = load_dataset(
        graph, source=args.source, steps=args.transitions_steps, seed=args.seed, warn=warn
    )
    emit(args, run_train_bench(graph, data))
