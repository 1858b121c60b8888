"""Waiting for a condition: the one poll loop (a process answers, an actor restarted, a state is
fresh), with a deadline on a monotonic clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_until"]

T = TypeVar("T")


def wait_until(
    check: Callable[[], T],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
    ignore: tuple[type[BaseException], ...] = (),
) -> T | None:
    """Call ``check`` until it returns something truthy, and return that; None at the deadline.

    ``check`` runs at once, then every ``interval_s`` (never past the deadline); it runs at least
    once even with ``timeout_s`` 0. An exception of a type in ``ignore`` counts as "not yet";
    any other propagates (a check raises to give up early).
    """
    deadline = time.monotonic() + max(0.0, timeout_s)
    while True:
        try:
            value = check()
            if value:
                return value
        except ignore:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(interval_s, left))
