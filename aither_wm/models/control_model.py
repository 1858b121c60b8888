"""ControlModel: the JEPA world model plus service-token dynamics and cost/value heads.

``world`` is the unchanged :class:`~aither_wm.models.world_model.WorldModel` (encoder -> 768-d
state embedding -> 256-d z, latent predictor), trained as before with prediction loss + lambda *
SIGReg, so violation-of-expectation detection keeps working on z. Control adds, on the encoder's
per-service tokens:

* ``tokens``: :class:`~aither_wm.models.token_predictor.ServiceTokenPredictor` (the action at its
  target's token);
* ``heads``: :class:`~aither_wm.models.control_heads.ControlHeads` (step cost, value over T
  steps, per-service health).

:class:`TokenDynamics` binds the token predictor to one decision as a
:class:`~aither_wm.types.LatentDynamics`: its latent is the flattened tokens plus one last
coordinate counting the steps taken (0 at the current state), which the planning objective
(:class:`~aither_wm.planning.value.ValueObjective`) reads to put the terminal value at the
horizon. Planners see a [D] vector as always (D = N * d + 1).

Glossary: B batch, N services, d token width, K flat actions, D planning latent (N * d + 1).
"""

from __future__ import annotations

import torch
from torch import nn

from aither_wm.config import ControlModelConfig
from aither_wm.errors import ShapeError
from aither_wm.graph.features import GraphBatch
from aither_wm.models.control_heads import ControlHeads
from aither_wm.models.token_predictor import ServiceTokenPredictor
from aither_wm.models.world_model import Encoded, WorldModel

__all__ = ["ControlModel", "TokenDynamics"]


class ControlModel(nn.Module):
    """World model + token predictor + heads (see the module docstring)."""

    def __init__(self, config: ControlModelConfig | None = None) -> None:
        super().__init__()
        cfg = config or ControlModelConfig()
        self.config = cfg
        self.world = WorldModel(cfg.world)
        d = cfg.world.encoder.d_model
        self.tokens = ServiceTokenPredictor(d, cfg.world.num_action_types, cfg.tokens)
        self.heads = ControlHeads(d, cfg.head_hidden, cfg.value_horizon)

    @property
    def latent_dim(self) -> int:
        """D of the world model's z (not the planning latent)."""
        return self.world.latent_dim

    @property
    def token_dim(self) -> int:
        return self.config.world.encoder.d_model

    def encode(self, batch: GraphBatch) -> Encoded:
        return self.world.encode(batch)

    def step_tokens(
        self,
        tokens: torch.Tensor,
        type_ids: torch.Tensor,
        target_ids: torch.Tensor,
        rel: torch.Tensor,
    ) -> torch.Tensor:
        """Shape: tokens [B, N, d], type/target ids [B], rel [B or 1, N, N] -> [B, N, d]."""
        return self.tokens(tokens, type_ids, target_ids, rel)

    @torch.inference_mode()
    def bind(
        self,
        services: torch.Tensor,
        rel: torch.Tensor,
        type_ids: torch.Tensor,
        target_ids: torch.Tensor,
    ) -> tuple[TokenDynamics, torch.Tensor]:
        """Bind to one state: (dynamics, the planning latent of the state [D]).

        Shape: services [N, d]; rel [N, N]; type_ids, target_ids [K] long.
        """
        if services.dim() != 2 or rel.shape != (services.shape[0], services.shape[0]):
            raise ShapeError(
                f"expected services [N, d] and rel [N, N], got {tuple(services.shape)}, "
                f"{tuple(rel.shape)}"
            )
        dyn = TokenDynamics(self, rel, type_ids, target_ids, services.shape[0])
        z0 = torch.cat([services.flatten(), services.new_zeros(1)])  # [N * d + 1]
        return dyn, z0

    @torch.inference_mode()
    def cost_of(self, latents: torch.Tensor, num_services: int) -> torch.Tensor:
        """Step cost of planning latents without their depth coordinate. [..., N*d] -> [...]."""
        return self.heads.cost(latents.unflatten(-1, (num_services, self.token_dim)))

    @torch.inference_mode()
    def value_of(self, latents: torch.Tensor, num_services: int) -> torch.Tensor:
        """Value of planning latents without their depth coordinate. [..., N*d] -> [...]."""
        return self.heads.value(latents.unflatten(-1, (num_services, self.token_dim)))


class TokenDynamics:
    """The token predictor bound to one decision; a ``LatentDynamics`` over [N * d + 1]."""

    def __init__(
        self,
        model: ControlModel,
        rel: torch.Tensor,
        type_ids: torch.Tensor,
        target_ids: torch.Tensor,
        num_services: int,
    ) -> None:
        if type_ids.shape != target_ids.shape or type_ids.dim() != 1:
            raise ShapeError("type_ids and target_ids must both be [K]")
        self._model = model
        self._rel = rel.unsqueeze(0)  # [1, N, N]
        self._types, self._targets = type_ids, target_ids
        self.num_services = num_services
        self.num_actions = int(type_ids.shape[0])
        self.latent_dim = num_services * model.token_dim + 1

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim or actions.shape != z.shape[:1]:
            raise ShapeError(
                f"step takes z [B, {self.latent_dim}] and actions [B], got {tuple(z.shape)}, "
                f"{tuple(actions.shape)}"
            )
        with torch.inference_mode():
            B = z.shape[0]
            tokens = z[:, :-1].reshape(B, self.num_services, -1)  # [B, N, d]
            nxt = self._model.tokens(
                tokens, self._types[actions], self._targets[actions], self._rel
            )  # [B, N, d]
            return torch.cat([nxt.flatten(1), z[:, -1:] + 1.0], dim=1)  # [B, D]
