"""``aither-wm bench anomaly``: detection lead time and false alarms on simulated faults
(:func:`aither_wm.bench.anomaly.run_anomaly_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "anomaly", fn=run, help="anomaly detection: lead time and false alarms")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--checkpoint", default=None, help="a trained model (default: train one)")
    p.add_argument("--steps", type=int, default=300, help="training steps (without --checkpoint)")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.anomaly import format_anomaly, run_anomaly_bench
    from aither_wm.progress import TqdmProgress, count_steps

    with TqdmProgress("anomaly") as progress:
        result = run_anomaly_bench(
            Path(args.graph),
            seed=args.seed,
            checkpoint=args.checkpoint,
            train_steps=args.steps,
            progress=count_steps(progress, "train", args.steps),
        )
    emit(args, result, format_anomaly)
