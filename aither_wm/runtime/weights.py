"""Weights travel from the trainer actor to the actors that plan or encode: a background puller.

A planner or encoder actor holds a :class:`WeightPuller`: it polls the named trainer's version and
fetches ``(version, state_dict)`` into a staging slot when a newer one is published; the actor
installs the staged weights between two calls, so a plan never runs on half-loaded weights and
never waits for a transfer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ray
import torch

from aither_wm.errors import one_line

__all__ = ["WeightPuller"]


class WeightPuller:
    """Fetches ``(version, state_dict)`` from the named trainer in a background thread.

    ``stage`` holds the newest fetched weights until the owner installs them between calls, so a
    plan never runs against half-loaded weights and never waits for a transfer.
    """

    def __init__(
        self,
        trainer: str | None,
        namespace: str | None,
        interval_s: float | None,
        current: Callable[[], int],
    ) -> None:
        self.trainer, self.namespace, self.interval_s = trainer, namespace, interval_s
        self._current = current
        self._handle: Any = None
        self._fetch_lock = threading.Lock()  # one transfer at a time
        self._slot_lock = threading.Lock()  # guards `staged` only: never held during a transfer
        self.staged: tuple[int, dict[str, torch.Tensor]] | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        if trainer and interval_s:
            threading.Thread(target=self._loop, name="weight-puller", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.fetch()

    def fetch(self) -> int | None:
        """Fetch newer weights into ``staged``; returns their version (None if none newer)."""
        if not self.trainer:
            return None
        with self._fetch_lock:
            try:
                if self._handle is None:
                    self._handle = ray.get_actor(self.trainer, namespace=self.namespace)
                version, refs = ray.get(self._handle.latest.remote(), timeout=10)
                with self._slot_lock:
                    staged_v = self.staged[0] if self.staged else -1
                if version <= max(self._current(), staged_v):
                    return None
                weights = ray.get(refs[0], timeout=60)
                with self._slot_lock:
                    self.staged = (int(version), weights)
                self.last_error = None
                return int(version)
            except Exception as e:  # the trainer may be restarting: keep the current weights
                self._handle = None
                self.last_error = one_line(e, with_type=True)
                return None

    def take(self) -> tuple[int, dict[str, torch.Tensor]] | None:
        """The staged weights, if any (never waits for a transfer in progress)."""
        with self._slot_lock:
            staged, self.staged = self.staged, None
            return staged

    def stop(self) -> None:
        self._stop.set()
