"""``aither-wm plan``: plan remediation for one mesh state with a trained checkpoint
(:func:`aither_wm.apps.plan.plan_state`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import (
    Subparsers,
    add_graph,
    add_json,
    add_seed,
    emit,
    graph_of,
    new_command,
)


def register(sub: Subparsers) -> None:
    p = new_command(sub, "plan", fn=run, help="plan remediation for one mesh state")
    add_graph(p)
    add_seed(p)
    add_json(p)
    p.add_argument("--checkpoint", required=True, help="a world-model checkpoint")
    p.add_argument(
        "--state",
        required=True,
        help="mesh state JSON file (docs/host.md; `aither-wm state example` writes one)",
    )
    p.add_argument("--planner", choices=("cem", "mcts", "beam"), default="cem", help="the planner")


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.plan import plan_state

    result = plan_state(
        graph_of(args), args.state, checkpoint=args.checkpoint, planner=args.planner, seed=args.seed
    )
    emit(args, result, lambda r: "\n".join(f"{k}: {v}" for k, v in r.items()))
