"""``aither-wm bench autoheal``: does it heal? Policies against the reactive runbook on injected
faults, with intervals over seeds (:func:`aither_wm.bench.autoheal.run_autoheal_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "autoheal", fn=run, help="does it heal? policies vs the reactive runbook")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--quick", action="store_true", help="the small run, a few minutes")
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="seeds, the replicates of the intervals (default: the run's)",
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=None,
        help="episodes per fault type and seed (default: the run's)",
    )
    p.add_argument(
        "--legacy",
        action="store_true",
        help="also the rows of the world model before the control model (health objective)",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        help="a trained world model for the legacy rows (implies --legacy; default: train one)",
    )
    p.add_argument("--out", default=None, help="folder for report.json, report.md and plots")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.autoheal import format_autoheal, run_autoheal_bench
    from aither_wm.progress import TqdmProgress

    with TqdmProgress("autoheal") as progress:
        result = run_autoheal_bench(
            Path(args.graph),
            seed=args.seed,
            seeds=args.seeds,
            episodes=args.episodes,
            quick=args.quick,
            out_dir=args.out,
            checkpoint=args.checkpoint,
            legacy=args.legacy,
            progress=progress,
        )
    emit(args, result, format_autoheal)
