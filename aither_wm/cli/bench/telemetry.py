"""``aither-wm bench telemetry``: learn, detect and localise on real telemetry, two-fold by day
(:func:`aither_wm.bench.telemetry.run_telemetry_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(
        sub,
        "telemetry",
        fn=run,
        help="real telemetry (Nezha layout): detection, localisation, prediction vs baselines",
    )
    p.add_argument(
        "--data",
        default=None,
        help="telemetry folder (<day>/metric/*_metric.csv; default: the shipped "
        "datasets/nezha-online-boutique)",
    )
    p.add_argument(
        "--graph", default=None, help="a graph file overriding the folder's dependency.csv"
    )
    p.add_argument("--out", default=None, help="folder for one plot per fold")
    p.add_argument(
        "--steps", type=int, default=None, help="training steps per fold (default: the bench's)"
    )
    add_seed(p)
    add_json(p)


def run(args: argparse.Namespace) -> None:
    import sys
    from pathlib import Path

    from aither_wm.bench.telemetry import (
        DEFAULT_DATA,
        TelemetryBenchConfig,
        format_telemetry,
        run_telemetry_bench,
    )
    from aither_wm.graph import load_graph
    from aither_wm.progress import TqdmProgress, count_steps
    from aither_wm.telemetry import day_folders

    data = Path(args.data) if args.data else DEFAULT_DATA
    folds = max(2, len(day_folders(data)))  # one fold per test day (checked again when read)
    cfg = (
        TelemetryBenchConfig()
        if args.steps is None
        else TelemetryBenchConfig(train_steps=args.steps)
    )
    graph = load_graph(args.graph) if args.graph else None
    with TqdmProgress("telemetry") as progress:
        result = run_telemetry_bench(
            data,
            seed=args.seed,
            config=cfg,
            graph=graph,
            out=args.out,
            progress=count_steps(progress, "train", folds * cfg.train_steps),
        )
    print(f"telemetry read: {result['read_report']['summary']}", file=sys.stderr)
    emit(args, result, format_telemetry)
