"""Actions on real processes, through the live mesh's supervisor.

=============  ====================================================================
restart        kill and start again every process of the service (its redis-server
               for a cache node)
scale_out/in   start / stop one worker process behind the service's shared port
rollback       restart the service on its previous release
=============  ====================================================================

The controller calls :meth:`SupervisorExecutor.execute` only for actions its safety guard admitted
(and never in dry-run); errors raised here are audited by the controller.
"""

from __future__ import annotations

import threading

from aither_wm.graph import Action, ActionType
from aither_wm.live.errors import LiveError
from aither_wm.live.mesh import LiveMesh

__all__ = ["SupervisorExecutor"]


class SupervisorExecutor:
    """Carries out actions on a running :class:`~aither_wm.live.mesh.LiveMesh`.

    Args:
        mesh: the supervisor (``source`` is accepted and ignored, for ``build_loop``).
    """

    def __init__(self, mesh: LiveMesh, source: object | None = None) -> None:
        if not isinstance(mesh, LiveMesh):
            raise LiveError(f"SupervisorExecutor acts on a LiveMesh, got {type(mesh).__name__}")
        self.mesh = mesh
        self.executed: list[tuple[float, Action]] = []
        self._lock = threading.Lock()

    def execute(self, action: Action) -> None:
        import time

        target = action.target
        with self._lock:
            if action.type is ActionType.noop or target is None:
                return
            if action.type is ActionType.restart:
                self.mesh.restart(target)
            elif action.type is ActionType.scale_out:
                self.mesh.scale(target, +1)
            elif action.type is ActionType.scale_in:
                self.mesh.scale(target, -1)
            elif action.type is ActionType.rollback:
                self.mesh.rollback(target)
            else:  # pragma: no cover - the enum is closed
                raise LiveError(f"unsupported action {action}")
            self.executed.append((time.time(), action))
