"""``aither-wm bench reliability``: crashes, Ray faults, fuzzing and load at full size
(:func:`aither_wm.bench.reliability.run_reliability_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_json, emit, new_command


def register(sub: Subparsers) -> None:
    add_json(new_command(sub, "reliability", fn=run, help="crash, Ray-fault, fuzz and load runs"))


def run(args: argparse.Namespace) -> None:
    from aither_wm.bench.reliability import run_reliability_bench

    emit(args, run_reliability_bench())
