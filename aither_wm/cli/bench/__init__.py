"""``aither-wm bench <name>``: one subcommand per benchmark, each with only its own flags.

Each benchmark's command is a module of this package with ``register(sub)`` (its parser and
flags) and a ``run(args)`` that calls the benchmark in :mod:`aither_wm.bench` and prints its
report. A new benchmark is one more module here and its name in :data:`BENCHES`.
"""

from __future__ import annotations

import importlib

from aither_wm.cli.common import Subparsers, new_command

__all__ = ["BENCHES", "register"]

#: The benchmark commands, in the order ``aither-wm bench --help`` lists them.
BENCHES: tuple[str, ...] = (
    "sigreg",
    "ablation",
    "train",
    "worldmodel",
    "planners",
    "runtime",
    "sim",
    "anomaly",
    "autoheal",
    "decisions",
    "reliability",
    "telemetry",
)


def register(sub: Subparsers) -> None:
    b = new_command(sub, "bench", help="benchmarks (aither-wm bench NAME --help for its flags)")
    b_sub = b.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name in BENCHES:
        importlib.import_module(f"{__name__}.{name}").register(b_sub)
