"""``aither-wm simulate``: write simulated transitions to a JSONL log
(:func:`aither_wm.sim.scenarios.simulate_to_file`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(sub, "simulate", fn=run, help="write simulated transitions to a JSONL log")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--steps", type=int, default=1000, help="transitions to write")
    p.add_argument("--faults", default=None, help="comma-separated fault names (default: all)")
    p.add_argument("--out", required=True, help="the log file (replaced)")


def run(args: argparse.Namespace) -> None:
    from aither_wm.sim.scenarios import simulate_to_file

    faults = args.faults.split(",") if args.faults else None
    result = simulate_to_file(
        args.graph, steps=args.steps, seed=args.seed, faults=faults, out=args.out, progress=True
    )
    emit(args, result)
