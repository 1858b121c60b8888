"""MeshWorldModel: the world model seen from mesh states (what planners and detectors are given).

Turns ``MeshState`` objects into tensors, encodes them in eval mode, and prepares one decision:
the bound latent dynamics (a ``LatentDynamics``), the current latent z0, the goal latent (the
encoding of the healthy version of the current state) and the action mask.

Given a :class:`~aither_wm.models.control_model.ControlModel`, a decision plans over its service
tokens instead (:class:`~aither_wm.models.control_model.TokenDynamics`; z0 is the flattened
tokens plus a step counter, the goal is unused and zero) and carries the model's cost and value
read-outs for the planning objective; ``encode``/``predict`` still use the world model's z.

Glossary: B states, N services, d service width, D latent, K flat actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import collate, featurize, structure
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import MeshState, healthy_version
from aither_wm.models.control_model import ControlModel
from aither_wm.models.packed import resolve_precision
from aither_wm.models.world_model import Encoded, WorldModel
from aither_wm.types import LatentDynamics

__all__ = ["Decision", "MeshWorldModel"]


@dataclass(frozen=True)
class Decision:
    """Everything a planner needs for one state.

    Attributes:
        dynamics: the world model bound to this state (LatentDynamics).
        z0: current latent. Shape: [D].
        goal: goal latent (healthy version of the state). Shape: [D].
        mask: valid flat actions. Shape: [K] bool.
        type_ids: action type of each flat action. Shape: [K] long.
        space: the action space (index <-> Action).
        services: per-service embeddings of the current state (for per-service read-outs).
            Shape: [N, d].
        cost_fn, value_fn: with a control model, its step-cost and value read-outs of planning
            latents without the step counter ([..., D - 1] -> [...]); None otherwise.
    """

    dynamics: LatentDynamics
    z0: torch.Tensor
    goal: torch.Tensor
    mask: torch.Tensor
    type_ids: torch.Tensor
    space: ActionSpace
    services: torch.Tensor | None = None
    cost_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    value_fn: Callable[[torch.Tensor], torch.Tensor] | None = None


class MeshWorldModel:
    """A trained WorldModel used on mesh states (always in eval mode, no gradients).

    ``precision`` is the planning precision of every :meth:`decision`'s dynamics ("fp32", "bf16",
    or "auto": bf16 where the hardware runs it natively; see :mod:`aither_wm.models.packed`).
    """

    def __init__(
        self,
        model: WorldModel | ControlModel,
        *,
        min_replicas: int = 1,
        max_replicas: int = 10,
        precision: str = "auto",
    ) -> None:
        self.model = model.eval()
        self.control = model if isinstance(model, ControlModel) else None
        self.world = model.world if isinstance(model, ControlModel) else model
        self.min_replicas, self.max_replicas = min_replicas, max_replicas
        self.precision = resolve_precision(
            precision, next(model.parameters()).device, self.world.config.predictor.hidden_dim
        )

    def space(self, graph: ServiceGraph) -> ActionSpace:
        return ActionSpace(graph, self.min_replicas, self.max_replicas)

    @torch.inference_mode()
    def encode(self, graph: ServiceGraph, states: list[MeshState]) -> Encoded:
        """Encode states of one graph. Shapes: services [B, N, d], state [B, E], z [B, D]."""
        return self.world.encode(collate([featurize(graph, s) for s in states]))

    @torch.inference_mode()
    def predict(
        self, graph: ServiceGraph, states: list[MeshState], actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_t [B, D], z_next_hat [B, D]) for states and flat actions [B]."""
        space = self.space(graph)
        enc = self.encode(graph, states)
        a = self.world.embed_action(
            enc.services, space.type_ids()[actions], space.target_ids()[actions]
        )
        return enc.z, self.world.predict(enc.z, a)

    @torch.inference_mode()
    def decision(self, graph: ServiceGraph, state: MeshState) -> Decision:
        if self.control is not None:
            return self._token_decision(graph, state)
        space = self.space(graph)
        enc = self.encode(graph, [state, healthy_version(state)])
        types = space.type_ids()
        dyn = self.world.bind(enc.services[0], types, space.target_ids(), precision=self.precision)
        return Decision(
            dynamics=dyn,
            z0=enc.z[0],
            goal=enc.z[1],
            mask=space.mask(state),
            type_ids=types,
            space=space,
            services=enc.services[0],
        )

    def _token_decision(self, graph: ServiceGraph, state: MeshState) -> Decision:
        assert self.control is not None
        space = self.space(graph)
        enc = self.encode(graph, [state])
        types = space.type_ids()
        _, rel = structure(graph)  # [N, N]
        dyn, z0 = self.control.bind(enc.services[0], rel, types, space.target_ids())
        N = graph.num_services
        return Decision(
            dynamics=dyn,
            z0=z0,
            goal=torch.zeros_like(z0),
            mask=space.mask(state),
            type_ids=types,
            space=space,
            services=enc.services[0],
            cost_fn=partial(self.control.cost_of, num_services=N),
            value_fn=partial(self.control.value_of, num_services=N),
        )
