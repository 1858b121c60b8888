"""``aither-wm run --config FILE``: the long-running autoheal service
(:func:`aither_wm.apps.service.run_service`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, new_command, warn


def register(sub: Subparsers) -> None:
    p = new_command(
        sub,
        "run",
        fn=run,
        help="the long-running autoheal service",
        description="Check the config, start the trainer, planner and controller actors and "
        "decide every interval_s until interrupted (dry-run unless the file says dry_run = "
        "false). A banner, one line per decision (report_every) and a summary on exit go to "
        "stderr; a bad name, path or number in the file exits 2 with one line.",
    )
    p.add_argument("--config", required=True, help="service config file (JSON or TOML)")


def run(args: argparse.Namespace) -> None:
    from aither_wm.apps.service import run_service

    run_service(args.config, say=warn)
