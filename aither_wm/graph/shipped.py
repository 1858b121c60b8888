"""The service graphs shipped inside the package, found by name from any directory.

``aither_wm/graphs/*.json`` (the repository's ``graphs/`` folder links to it) are package data,
read through :mod:`importlib.resources`, so ``--graph online-boutique`` works wherever
aither-wm is installed, not only from a clone's root. :func:`resolve_graph` turns what a user
wrote (a path, or a shipped graph's name) into the file to read.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from aither_wm.errors import GraphError

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; the protocol is only a type here
    from importlib.resources.abc import Traversable

__all__ = ["resolve_graph", "shipped_graph_names", "shipped_graphs"]


def shipped_graphs() -> dict[str, Traversable]:
    """The shipped graph files by name (file name without ``.json``), sorted."""
    folder = files("aither_wm") / "graphs"
    found = {f.name[: -len(".json")]: f for f in folder.iterdir() if f.name.endswith(".json")}
    return dict(sorted(found.items()))


def shipped_graph_names() -> list[str]:
    """Names ``--graph`` accepts besides a path: ``online-boutique``, ``sock-shop``, ..."""
    return list(shipped_graphs())


def resolve_graph(ref: str | Path) -> Path | Traversable:
    """The graph file ``ref`` names.

    In order: an existing file at ``ref``; a shipped graph's name (``online-boutique``, with or
    without ``.json``); a relative ``graphs/<name>.json`` that does not exist here (the
    repository's layout, used from another directory) names the shipped graph of that name.

    Raises:
        GraphError: neither a file nor a shipped graph (the shipped names and the closest
            match are given).
    """
    p = Path(ref)
    if p.is_file():
        return p
    shipped = shipped_graphs()
    text = str(ref)
    key = text[: -len(".json")] if text.endswith(".json") else text
    if key in shipped:
        return shipped[key]
    if not p.is_absolute() and p.parent == Path("graphs") and p.stem in shipped:
        return shipped[p.stem]
    if p.exists():
        raise GraphError(f"{p}: cannot read graph file (not a regular file)")
    close = difflib.get_close_matches(Path(key).name, list(shipped), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise GraphError(
        f"{text}: cannot read graph file (no such file, and no shipped graph of that name; "
        f"shipped: {', '.join(shipped)}){hint}"
    )
