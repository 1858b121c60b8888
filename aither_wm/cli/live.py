"""``aither-wm live up|down|heal``: a live mesh of real processes, Redis and Prometheus
(:mod:`aither_wm.live`)."""

from __future__ import annotations

import argparse
import typing
from pathlib import Path

from aither_wm.cli.common import (
    Subparsers,
    add_graph,
    add_json,
    default_of,
    emit,
    graph_of,
    new_command,
)


def register(sub: Subparsers) -> None:
    from aither_wm.apps.defaults import LIVE_GRAPH
    from aither_wm.live.config import FAULTS, HealConfig, LiveMeshConfig

    lv = new_command(sub, "live", help="a live mesh of real processes, Redis and Prometheus")
    lv_sub = lv.add_subparsers(dest="live_command", required=True)
    up = new_command(lv_sub, "up", fn=run_up, help="start the live mesh (stays up)")
    down = new_command(lv_sub, "down", fn=run_down, help="stop it, no process left")
    heal = new_command(
        lv_sub, "heal", fn=run_heal, help="start, inject a fault, heal, report, stop"
    )
    for p in (up, down, heal):
        p.add_argument(
            "--run-dir", default="runs/live", help="state, logs, audit and report folder"
        )
        add_json(p)
    for p in (up, heal):
        add_graph(p, default=LIVE_GRAPH)
    up.add_argument(
        "--rps",
        type=float,
        default=default_of(LiveMeshConfig, "rps"),
        help="load on the entry points",
    )
    heal.add_argument(
        "--fault",
        required=True,
        choices=FAULTS,
        metavar="FAULT",
        help=f"one of {', '.join(FAULTS)}",
    )
    heal.add_argument("--target", default=None, help="service to break (default: a sensible one)")
    heal.add_argument(
        "--duration",
        type=float,
        default=default_of(HealConfig, "duration_s"),
        help="seconds after the fault before giving up",
    )
    heal.add_argument(
        "--policy",
        choices=typing.get_args(HealConfig.model_fields["policy"].annotation),
        default=default_of(HealConfig, "policy"),
        help="who decides",
    )


def run_up(args: argparse.Namespace) -> None:
    from aither_wm.live.config import LiveMeshConfig
    from aither_wm.live.mesh import LiveMesh

    run_dir = Path(args.run_dir)
    mesh = LiveMesh(graph_of(args), run_dir, LiveMeshConfig(rps=args.rps)).up()
    services = {n: s["port"] or s["redis_port"] for n, s in mesh.services.items()}
    emit(
        args,
        {
            "run_dir": str(run_dir),
            "prometheus_url": mesh.prometheus_url,
            "processes": mesh.procs,
            "services": services,
        },
    )


def run_down(args: argparse.Namespace) -> None:
    from aither_wm.live.mesh import down

    emit(args, down(Path(args.run_dir)))


def run_heal(args: argparse.Namespace) -> None:
    from aither_wm.cli.common import warn
    from aither_wm.live.config import HealConfig
    from aither_wm.live.heal import run_heal

    cfg = HealConfig(
        fault=args.fault, target=args.target, policy=args.policy, duration_s=args.duration
    )
    run_dir = Path(args.run_dir)
    result = run_heal(graph_of(args), cfg, run_dir=run_dir, model_dir=run_dir / "models", log=warn)
    emit(args, result, lambda r: "\n".join(f"{k}: {v}" for k, v in r.items() if k != "timeline"))
