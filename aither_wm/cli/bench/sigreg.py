"""``aither-wm bench sigreg``: the reference SIGReg against the seed's form and VICReg on known
distributions (:func:`aither_wm.bench.sigreg.run_sigreg_bench`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(
        sub,
        "sigreg",
        fn=run,
        help="SIGReg (reference, seed form) and VICReg on known distributions",
    )
    add_seed(p)
    add_json(p)


def run(args: argparse.Namespace) -> None:
    from aither_wm.bench.sigreg import format_table, run_sigreg_bench

    emit(args, run_sigreg_bench(seed=args.seed), format_table)
