"""``aither-wm demo``: simulate, train, plan and heal on embedded local Ray
(:func:`aither_wm.apps.demo.run_demo`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_json, add_seed, emit, new_command


def register(sub: Subparsers) -> None:
    p = new_command(
        sub,
        "demo",
        fn=run,
        help="the main job: simulate, train, plan and heal on embedded local Ray",
        description="Simulate the graph with faults, train the world model on the trainer actor, "
        "and compare the CEM and MCTS planner actors, the controller picking between them, and "
        "the reactive runbook on injected faults.",
    )
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--quick", action="store_true", help="a smaller run (under a minute)")
    p.add_argument(
        "--out", default=None, help="folder for report.md, report.json, plots, checkpoint"
    )


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.demo import run_demo

    result = run_demo(
        args.out, quick=args.quick, graph_path=args.graph, seed=args.seed, progress=True
    )
    emit(args, result, lambda r: r["summary_text"])
