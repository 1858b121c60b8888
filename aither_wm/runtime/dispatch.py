"""Sending work to actors from the driver (or the controller actor).

:func:`gather` waits for several calls at once with one deadline; :class:`ActorDispatcher` sends one
plan request to every planner actor at once and collects the answers until the controller's
deadline; :class:`TrainerFeed` streams transition batches to the trainer at least once, across
trainer restarts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import ray

from aither_wm.control.planners import PlanOutcome, PlanRequest
from aither_wm.errors import one_line

__all__ = ["ActorDispatcher", "TrainerFeed", "gather"]

log = logging.getLogger(__name__)


def gather(refs: Mapping[str, Any], timeout_s: float) -> dict[str, tuple[str, Any]]:
    """Wait for several object refs at once (one ``ray.wait``), until ``timeout_s``.

    Returns name -> ("ok", value) | ("error", "Type: message") | ("timeout", None).
    """
    if not refs:
        return {}
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=max(0.0, timeout_s))
    done = set(ready)
    out: dict[str, tuple[str, Any]] = {}
    for name, ref in refs.items():
        if ref not in done:
            out[name] = ("timeout", None)
            continue
        try:
            out[name] = ("ok", ray.get(ref, timeout=0))  # already resolved: no wait
        except Exception as e:
            out[name] = ("error", one_line(e, with_type=True))
    return out


class ActorDispatcher:
    """Sends one request to every planner actor at once and waits (``ray.wait``) until a deadline.

    A planner whose previous request is still running (it hung, or is slow) is not sent another
    (reported ``busy``): requests never pile up behind a stuck actor.

    Args:
        planners: name -> PlannerActor handle.
    """

    def __init__(self, planners: Mapping[str, Any]) -> None:
        self.planners = dict(planners)
        self.names = tuple(self.planners)
        self._pending: dict[str, Any] = {}

    def dispatch(self, request: PlanRequest, timeout_s: float) -> dict[str, PlanOutcome]:
        out: dict[str, PlanOutcome] = {}
        prev = [r for r in self._pending.values()]
        still = set(ray.wait(prev, num_returns=len(prev), timeout=0)[1]) if prev else set()
        refs: dict[str, Any] = {}
        sent = time.perf_counter()
        for n in self.names:
            if n in self._pending and self._pending[n] in still:
                out[n] = PlanOutcome(n, "busy", error="previous request still running")
                continue
            refs[n] = self._pending[n] = self.planners[n].plan.remote(request)
        # Collect as they finish, for per-planner round trips; stop at the deadline.
        deadline = sent + max(0.0, timeout_s)
        waiting = dict(refs)
        done_at: dict[str, float] = {}
        while waiting:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            ready, _ = ray.wait(list(waiting.values()), num_returns=1, timeout=left)
            now = time.perf_counter()
            for n in [n for n, r in waiting.items() if r in ready]:
                done_at[n] = now
                del waiting[n]
        for n, ref in refs.items():
            if n in waiting:
                out[n] = PlanOutcome(
                    n,
                    "timeout",
                    error=f"no answer within {timeout_s * 1e3:.0f} ms",
                    round_trip_ms=(time.perf_counter() - sent) * 1e3,
                )
                continue
            ms = (done_at[n] - sent) * 1e3
            del self._pending[n]
            try:
                out[n] = PlanOutcome(
                    n, "ok", reply=ray.get(ref, timeout=0), round_trip_ms=ms
                )  # resolved
            except Exception as e:
                out[n] = PlanOutcome(
                    n, "error", error=one_line(e, with_type=True), round_trip_ms=ms
                )
        return {n: out[n] for n in self.names}

    def close(self) -> None:
        self._pending.clear()


class TrainerFeed:
    """Sends transition batches to the trainer at least once.

    A batch whose call failed because the trainer was down (killed, restarting, its node lost:
    a ``RayActorError``) is sent again with the next batch, so a trainer crash loses no
    transition; a call that died after the trainer logged the batch makes it a duplicate, which
    training tolerates. A batch the trainer refused (its own error) is reported, not resent.

    The counts (:meth:`counts`: transitions ``resent``, ``refused`` by the trainer, ``dropped``
    after ``max_unsent`` batches waited) are in the controller actor's ``health()``.

    Args:
        trainer: the trainer actor handle.
        max_unsent: most batches kept while the trainer is away (the oldest go first).
    """

    def __init__(self, trainer: Any, max_unsent: int = 1024) -> None:
        self.trainer = trainer
        self.max_unsent = max_unsent
        self._inflight: list[tuple[Any, list[Any]]] = []
        self._unsent: list[list[Any]] = []
        self.resent = 0
        self.refused = 0
        self.dropped = 0

    def send(self, payload: list[Any]) -> None:
        """Queue ``payload`` (may be empty: only resend) and send every unsent batch."""
        self._collect()
        if payload:
            self._unsent.append(payload)
        if len(self._unsent) > self.max_unsent:
            cut = len(self._unsent) - self.max_unsent
            self.dropped += sum(len(p) for p in self._unsent[:cut])
            log.warning("trainer away too long: dropping %d unsent batches", cut)
            del self._unsent[:cut]
        for p in self._unsent:
            self._inflight.append((self.trainer.ingest.remote(p), p))
        self._unsent = []

    def counts(self) -> dict[str, int]:
        """Transitions resent after a trainer outage, refused by the trainer, dropped unsent."""
        return {"resent": self.resent, "refused": self.refused, "dropped": self.dropped}

    def pending(self) -> int:
        """Transitions not yet acknowledged by the trainer."""
        self._collect()
        return sum(len(p) for _, p in self._inflight) + sum(len(p) for p in self._unsent)

    def _collect(self) -> None:
        if not self._inflight:
            return
        refs = [r for r, _ in self._inflight]
        done = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0])
        still = []
        for ref, p in self._inflight:
            if ref not in done:
                still.append((ref, p))
                continue
            try:
                ray.get(ref, timeout=0)
            except ray.exceptions.RayActorError as e:  # the trainer was down: send it again
                log.warning(
                    "trainer down (%s): resending %d transitions",
                    one_line(e, with_type=True),
                    len(p),
                )
                self._unsent.append(p)
                self.resent += len(p)
            except Exception as e:  # the trainer refused the batch: resending would not help
                log.warning(
                    "trainer refused %d transitions: %s", len(p), one_line(e, with_type=True)
                )
                self.refused += len(p)
        self._inflight = still
