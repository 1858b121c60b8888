"""``aither-wm state example``: write a mesh state in the JSON format ``plan --state`` and the
host API read (:mod:`aither_wm.apps.state`, docs/host.md)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_graph, add_seed, graph_of, new_command, warn


def register(sub: Subparsers) -> None:
    from aither_wm.sim.faults import FAULT_NAMES

    st = new_command(sub, "state", help="mesh states in the JSON format hosts send")
    st_sub = st.add_subparsers(dest="state_command", required=True)
    p = new_command(
        st_sub,
        "example",
        fn=run_example,
        help="write an example state of a graph (from the simulator)",
        description="Write one mesh state of the graph as JSON (the format of `aither-wm plan "
        "--state` and AitherPlugin.decide; docs/host.md): a quiet mesh, or with --fault one "
        "whose health checks have started to fail.",
    )
    add_graph(p)
    add_seed(p)
    p.add_argument(
        "--fault",
        choices=FAULT_NAMES,
        metavar="FAULT",
        default=None,
        help=f"inject this fault first: one of {', '.join(FAULT_NAMES)}",
    )
    p.add_argument("--target", default=None, help="the faulty service (default: a sensible one)")
    p.add_argument("--out", default=None, help="the file to write (default: stdout)")


def run_example(args: argparse.Namespace) -> None:
    from aither_wm.apps.state import example_state, state_json, write_state_file

    state = example_state(graph_of(args), fault=args.fault, target=args.target, seed=args.seed)
    if args.out:
        path = write_state_file(state, args.out)
        warn(
            f"wrote {path} (graph {state.graph}, step {state.step}, {len(state.services)} services)"
        )
    else:
        print(state_json(state))
