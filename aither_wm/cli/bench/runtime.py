"""``aither-wm bench runtime``: plan round trips through planner actors against in-process
(:func:`aither_wm.bench.runtime.run_runtime_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "runtime", fn=run, help="plan round trips through Ray planner actors")
    add_graph(p)
    add_seed(p)
    add_json(p)


def run(args: argparse.Namespace) -> None:
    from pathlib import Path

    from aither_wm.bench.runtime import run_runtime_bench

    emit(args, run_runtime_bench(Path(args.graph), seed=args.seed))
