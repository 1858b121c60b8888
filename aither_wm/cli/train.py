"""``aither-wm train``: train a world model and write a checkpoint
(:func:`aither_wm.apps.train.train_world_model`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aither_wm.cli.common import (
    Subparsers,
    add_graph,
    add_json,
    add_seed,
    default_of,
    emit,
    graph_of,
    new_command,
    warn,
)
from aither_wm.config import TrainConfig


def add_data_flags(p: argparse.ArgumentParser, *, transitions_steps: int, log: bool) -> None:
    """Where the training data comes from: ``--transitions`` (a log), else ``--source``."""
    if log:
        p.add_argument("--transitions", default=None, help="transitions log (none: generate)")
    p.add_argument(
        "--source", choices=("sim", "toy"), default="sim", help="generator of the transitions"
    )
    p.add_argument(
        "--transitions-steps", type=int, default=transitions_steps, help="transitions to generate"
    )


def register(sub: Subparsers) -> None:
    from aither_wm.apps.defaults import DEFAULT_CHECKPOINT

    p = new_command(sub, "train", fn=run, help="train a world model and write a checkpoint")
    add_graph(p)
    add_seed(p)
    add_json(p)
    add_data_flags(p, transitions_steps=4000, log=True)
    p.add_argument(
        "--steps", type=int, default=default_of(TrainConfig, "steps"), help="optimizer steps"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=default_of(TrainConfig, "batch_size"),
        help="transitions per step",
    )
    p.add_argument(
        "--lam", type=float, default=default_of(TrainConfig, "lam"), help="weight of SIGReg"
    )
    p.add_argument("--device", default=default_of(TrainConfig, "device"), help="torch device")
    p.add_argument("--out", default=DEFAULT_CHECKPOINT, help="checkpoint file")


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.train import load_dataset, train_world_model
    from aither_wm.progress import TqdmProgress

    graph = graph_of(args)
    log = Path(args.transitions) if args.transitions else None
    data = load_dataset(
        graph, log=log, source=args.source, steps=args.transitions_steps, seed=args.seed, warn=warn
    )
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        lam=args.lam,
        seed=args.seed,
        device=args.device,
    )
    with TqdmProgress("train") as progress:
        report = train_world_model(data, args.out, graph=graph, config=cfg, progress=progress)
    emit(args, report)
