"""``aither-wm bench sim``: simulator speed on the shipped and generated graphs
(:func:`aither_wm.bench.sim.run_sim_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_json, emit, new_command


def register(sub: Subparsers) -> None:
    add_json(
        new_command(sub, "sim", fn=run, help="simulator steps per second, 10 to 1,000 services")
    )


def run(args: argparse.Namespace) -> None:
    from aither_wm.bench.sim import run_sim_bench

    emit(args, run_sim_bench())
