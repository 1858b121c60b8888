"""Executors: the only way an action reaches the mesh.

The controller calls :meth:`Executor.execute` once per action that the safety guard admitted and
only when it is not in dry-run mode. A host plugs in its own executor (Kubernetes, Nomad, the
simulator of ``plugins/aither_sim``) through the registry's ``executor`` kind.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

from aither_wm.graph.state import Action

__all__ = ["Executor", "RecordingExecutor"]


@runtime_checkable
class Executor(Protocol):
    """Carries out one remediation action on the mesh (may raise; the controller audits it)."""

    def execute(self, action: Action) -> None: ...


class RecordingExecutor:
    """Changes nothing; remembers every action it was asked to execute (tests, dry runs)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self._lock = threading.Lock()

    def execute(self, action: Action) -> None:
        with self._lock:
            self.actions.append(action)
