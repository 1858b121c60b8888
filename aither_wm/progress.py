"""Progress reporting: one callback protocol for every long run, and its tqdm adapter.

A long run (the demo, a bench, a training) takes a :class:`Progress` and calls it with a phase name
and an info mapping. Info with ``n`` and ``total`` is a counter (``n`` of ``total`` done, extra
keys are shown beside it); any other info is a note (``key=value`` pairs). The library never
prints progress itself: the command line passes a :class:`TqdmProgress`, which draws counters as
tqdm bars and notes as ``[prefix] phase: key=value`` lines, both on stderr; tests pass a list's
``append`` wrapped in a lambda, or nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import IO, Any, Protocol

__all__ = ["Progress", "TqdmProgress", "count_steps"]


class Progress(Protocol):
    """Receives ``(phase, info)``: a counter when info has ``n`` and ``total``, else a note."""

    def __call__(self, phase: str, info: Mapping[str, Any], /) -> None: ...


def count_steps(
    progress: Progress | None,
    phase: str,
    total: int,
    describe: Callable[[Any], Mapping[str, Any]] | None = None,
) -> Callable[[Any], None]:
    """A per-step callback (such as ``train.fit``'s ``progress``) that reports the ``phase``
    counter: each call is one more of ``total``; ``describe(info)`` adds keys shown beside it."""
    done = 0

    def step(info: Any = None) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            extra = describe(info) if describe is not None else {}
            progress(phase, {"n": done, "total": total, **extra})

    return step


class TqdmProgress:
    """:class:`Progress` on stderr: one tqdm bar at a time, one line per note.

    A counter of a new phase closes the previous phase's bar (one bar on screen, never a stack),
    and notes are written through ``tqdm.write`` while a bar is open, so a line never runs into
    a bar.

    Use as a context manager, or call :meth:`close`, so the bars are cleared.

    Args:
        prefix: the tag of note lines (``[demo] ray: mode=embedded``).
        file: where to write (default: stderr).
    """

    def __init__(self, prefix: str = "aither-wm", file: IO[str] | None = None) -> None:
        self.prefix = prefix
        self.file = file
        self._bars: dict[str, Any] = {}

    def __call__(self, phase: str, info: Mapping[str, Any], /) -> None:
        out = self.file or sys.stderr
        from tqdm import tqdm

        if "n" not in info or "total" not in info:
            note = ", ".join(f"{k}={v}" for k, v in info.items())
            line = f"[{self.prefix}] {phase}: {note}"
            if self._bars:
                tqdm.write(line, file=out)
            else:
                print(line, file=out, flush=True)
            return
        bar = self._bars.get(phase)
        if bar is None:
            self.close()  # one bar at a time: the previous phase is over
            bar = self._bars[phase] = tqdm(
                total=int(info["total"]), desc=phase, file=out, leave=False, dynamic_ncols=True
            )
        bar.update(max(0, int(info["n"]) - bar.n))
        extra = {k: v for k, v in info.items() if k not in ("n", "total")}
        if extra:
            bar.set_postfix(extra)

    def close(self) -> None:
        """Clear every bar."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> TqdmProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
