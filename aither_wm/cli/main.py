"""The parser (one subcommand per module of this package) and :func:`main`, which turns expected
errors into a one-line message and exit status 2."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from pydantic import ValidationError

from aither_wm import __version__
from aither_wm.errors import AitherError, one_line, validation_message

__all__ = ["COMMANDS", "build_parser", "main"]

#: The command modules of :mod:`aither_wm.cli`, in the order ``aither-wm --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "simulate",
    "train",
    "plan",
    "state",
    "run",
    "bench",
    "tune",
    "live",
    "plugins",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aither-wm",
        description="aither-wm: a latent world model that detects, plans and heals a service mesh. "
        "Every report command takes --json and then prints one JSON object on stdout; progress "
        "goes to stderr; bad input exits 2 with a one-line message.",
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"aither-wm {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"aither_wm.cli.{name}").register(sub)
    return p


def _one_line_warning(
    message: Warning | str, category: type[Warning], *args: object, **kwargs: object
) -> str:
    """Warnings on the command line: one line, no source line (each distinct one once)."""
    return f"aither-wm: {category.__name__}: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``aither-wm`` with ``argv`` (default: the process's); returns the exit status."""
    warnings.formatwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    prefix = f"aither-wm {args.command}: error:"
    try:
        args.fn(args)
    except AitherError as e:
        _err(f"{prefix} {one_line(e)}")
        return 2
    except ValidationError as e:  # a flag value a config section refuses (e.g. --steps 0)
        _err(f"{prefix} invalid {validation_message(e)}")
        return 2
    except OSError as e:  # a file named on the command line cannot be read or written
        what = f"{e.strerror or e}" + (f": {e.filename}" if e.filename else "")
        _err(f"{prefix} {what}")
        return 2
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    return 0


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
