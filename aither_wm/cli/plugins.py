"""``aither-wm plugins list``: the registered components and who provides them
(:func:`aither_wm.registry.default_registry`)."""

from __future__ import annotations

import argparse

from aither_wm.cli.common import Subparsers, add_json, emit, new_command


def register(sub: Subparsers) -> None:
    pg = new_command(sub, "plugins", help="plugins")
    pg_sub = pg.add_subparsers(dest="plugins_command", required=True)
    add_json(new_command(pg_sub, "list", fn=run_list, help="list discovered plugins"))


def _text(r: dict[str, list[dict[str, str]]]) -> str:
    return "\n".join(
        f"{p.get('kind', '?'):>12}  {p.get('name', '?'):<20} {p.get('source', '')}"
        for p in r["plugins"]
    )


def run_list(args: argparse.Namespace) -> None:
    from aither_wm.registry import default_registry

    emit(args, {"plugins": default_registry().describe()}, _text)
