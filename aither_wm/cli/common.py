"""What every command shares: building a subcommand's parser, the common flags, printing the result.

Every report command takes ``--json`` and then prints exactly one JSON object on stdout; progress
bars and logs go to stderr (:class:`~aither_wm.progress.TqdmProgress`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

__all__ = [
    "Command",
    "add_graph",
    "add_json",
    "add_seed",
    "default_of",
    "emit",
    "graph_of",
    "new_command",
    "seed_value",
    "warn",
]

#: A subcommand's entry: ``run(args)``, set as the parser's ``fn`` default.
Command = Callable[[argparse.Namespace], None]
#: ``parser.add_subparsers(...)``'s return value (argparse does not export its type).
Subparsers = Any


class _HelpFormatter(argparse.HelpFormatter):
    """Each flag's help ends with its default, unless the help names it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.required or action.default in (None, argparse.SUPPRESS):
            return text
        if action.default is False:  # a switch
            return text
        return f"{text} (default: %(default)s)"


def new_command(
    sub: Subparsers,
    name: str,
    *,
    help: str,
    description: str | None = None,
    fn: Command | None = None,
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` (no abbreviated flags: ``--stat`` is not ``--state``) that calls
    ``fn(args)`` (None: a group whose own subcommands do); ``description`` (default: ``help``)
    heads its ``--help``."""
    p = sub.add_parser(
        name,
        help=help,
        description=description or help,
        allow_abbrev=False,
        formatter_class=_HelpFormatter,
    )
    if fn is not None:
        p.set_defaults(fn=fn)
    return p


def default_of(model: type[BaseModel], field: str) -> Any:
    """The default of a config model's field (so a flag's default is the library's)."""
    return model.model_fields[field].default


def seed_value(text: str) -> int:
    """``--seed``: an integer every RNG accepts (torch and numpy refuse negatives or >= 2**63)."""
    value = int(text)
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {text}")
    return value


def add_graph(p: argparse.ArgumentParser, default: str | None = None) -> None:
    """``--graph FILE`` (default: :data:`~aither_wm.apps.defaults.DEFAULT_GRAPH`)."""
    from aither_wm.apps.defaults import DEFAULT_GRAPH

    p.add_argument(
        "--graph",
        default=default or DEFAULT_GRAPH,
        help="a graph file (JSON), or a shipped graph by name: online-boutique, sock-shop, "
        "deathstarbench-socialnetwork, deathstarbench-hotelreservation",
    )


def add_seed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=seed_value, default=0, help="seed of every random draw")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def graph_of(args: argparse.Namespace) -> Any:
    """The ServiceGraph named by ``--graph``."""
    from aither_wm.graph import load_graph

    return load_graph(args.graph)


def warn(msg: str) -> None:
    """A line on stderr."""
    print(msg, file=sys.stderr, flush=True)


def emit(
    args: argparse.Namespace,
    result: dict[str, Any] | BaseModel,
    text: Callable[[dict[str, Any]], str] | None = None,
) -> None:
    """Print the result: one JSON line with ``--json``, else ``text(result)`` (default:
    indented JSON)."""
    data = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    if getattr(args, "json", False):
        print(json.dumps(data, default=str))
    else:
        print(text(data) if text else json.dumps(data, indent=2, default=str))
