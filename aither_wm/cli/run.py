"""``aither-wm run --config FILE``: the long-running autoheal service
(:func:`aither_wm.apps.service.run_service`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, new_command


def register(sub: Subparsers) -> None:
    p = new_command(
        sub,
        "run",
        fn=run,
        help="the long-running autoheal service",
        description="Start the trainer, planner and controller actors and decide every "
        "interval_s until interrupted (dry-run unless the file says dry_run = false).",
    )
    p.add_argument("--config", required=True, help="service config file (JSON or TOML)")


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.service import run_service

    run_service(args.config)
