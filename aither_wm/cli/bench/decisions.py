"""``aither-wm bench decisions``: the control model's exam on held-out states against every valid
action branched on simulator clones (:func:`aither_wm.bench.decisions.run_decisions_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "decisions", fn=run, help="the control model's decision exam")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--quick", action="store_true", help="the small run, under a minute")


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.decisions import format_decisions, run_decisions_bench

    result = run_decisions_bench(Path(args.graph), seed=args.seed, quick=args.quick)
    emit(args, result, format_decisions)
