"""The flat, masked action space of one graph.

Flat index layout (K = 1 + T * N actions, T = 4 targeted types, N services in graph order)::

    0                   noop
    1 + t * N + i       type TARGETED_TYPES[t] on service i

Validity (the mask every planner must respect):
  * noop and restart are always valid;
  * scale_out needs replicas < max_replicas; scale_in needs replicas > min_replicas;
  * rollback needs a ``previous_version``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aither_wm.errors import ActionError
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType, MeshState

__all__ = ["ACTION_TYPES", "TARGETED_TYPES", "ActionSpace"]

#: Action types that take a target, in flat-index order.
TARGETED_TYPES: tuple[ActionType, ...] = (
    ActionType.restart,
    ActionType.scale_out,
    ActionType.scale_in,
    ActionType.rollback,
)
#: All action types; the position is the type id used by models (0 = noop).
ACTION_TYPES: tuple[ActionType, ...] = (ActionType.noop, *TARGETED_TYPES)


@dataclass(frozen=True)
class ActionSpace:
    """Flat discrete action space over one graph, with validity masks.

    Attributes:
        graph: the graph whose services are targets.
        min_replicas: scale_in is invalid at or below this many replicas.
        max_replicas: scale_out is invalid at or above this many replicas.
    """

    graph: ServiceGraph
    min_replicas: int = 1
    max_replicas: int = 10

    @property
    def num_actions(self) -> int:
        """K = 1 + 4 * N."""
        return 1 + len(TARGETED_TYPES) * self.graph.num_services

    def index(self, action: Action) -> int:
        """Flat index of ``action``; ActionError if its target is not in the graph."""
        if action.type is ActionType.noop:
            return 0
        assert action.target is not None
        if action.target not in self.graph.services:
            raise ActionError(f"action {action} targets a service not in graph {self.graph.name!r}")
        t = TARGETED_TYPES.index(action.type)
        return 1 + t * self.graph.num_services + self.graph.index(action.target)

    def action(self, index: int) -> Action:
        """The action at flat ``index``; ActionError when out of range."""
        k = int(index)
        if not 0 <= k < self.num_actions:
            raise ActionError(f"action index {k} out of range [0, {self.num_actions})")
        if k == 0:
            return Action.noop()
        t, i = divmod(k - 1, self.graph.num_services)
        return Action(type=TARGETED_TYPES[t], target=self.graph.services[i])

    def type_ids(self) -> torch.Tensor:
        """Type id (position in ACTION_TYPES) of each flat action. Shape: [K] long."""
        n = self.graph.num_services
        ids = torch.arange(len(TARGETED_TYPES)).repeat_interleave(n) + 1  # [T * N]
        return torch.cat([torch.zeros(1, dtype=torch.long), ids])  # [K]

    def target_ids(self) -> torch.Tensor:
        """Target service index of each flat action, -1 for noop. Shape: [K] long."""
        n = self.graph.num_services
        ids = torch.arange(n).repeat(len(TARGETED_TYPES))  # [T * N]
        return torch.cat([torch.full((1,), -1, dtype=torch.long), ids])  # [K]

    def mask(self, state: MeshState) -> torch.Tensor:
        """Validity of each flat action in ``state``. Shape: [K] bool."""
        state.check_graph(self.graph)
        n = self.graph.num_services
        svc = [state.services[s] for s in self.graph.services]
        restart = torch.ones(n, dtype=torch.bool)
        scale_out = torch.tensor([s.replicas < self.max_replicas for s in svc], dtype=torch.bool)
        scale_in = torch.tensor([s.replicas > self.min_replicas for s in svc], dtype=torch.bool)
        rollback = torch.tensor([s.previous_version is not None for s in svc], dtype=torch.bool)
        return torch.cat([torch.ones(1, dtype=torch.bool), restart, scale_out, scale_in, rollback])

    def is_valid(self, action: Action, state: MeshState) -> bool:
        return bool(self.mask(state)[self.index(action)])
