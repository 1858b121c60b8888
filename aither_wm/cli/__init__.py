"""``aither-wm``: the command line. Parses arguments, calls the library, prints; no logic of its own.

One module per command (``demo``, ``simulate``, ``train``, ``plan``, ``run``, ``tune``, ``live``,
``plugins``) and a ``bench`` package with one module per benchmark; each registers its own parser
and flags, with defaults read from the config models. :mod:`aither_wm.cli.main` builds the parser
and maps expected errors to exit status 2 with a one-line message. Every report command takes
``--json`` and then prints exactly one JSON object on stdout; progress goes to stderr.
"""

from aither_wm.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
