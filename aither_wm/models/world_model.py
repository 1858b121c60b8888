"""WorldModel: encoder -> projector -> latent z, and the action-conditioned predictor.

Also :class:`BoundDynamics`, the world model bound to one decision (one current state): it
implements the :class:`aither_wm.types.LatentDynamics` protocol that planners use, with the
conditioning of all K flat actions computed once (the per-action table) and the predictor packed
at the planning precision (:mod:`aither_wm.models.packed`).

Glossary: B batch, N services, d service width, E state embedding, D latent, K flat actions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aither_wm.config import WorldModelConfig
from aither_wm.errors import ShapeError
from aither_wm.graph.features import GraphBatch
from aither_wm.models.encoder import GraphStateEncoder
from aither_wm.models.packed import PackedPredictor
from aither_wm.models.predictor import ActionEmbedding, LatentPredictor
from aither_wm.models.projector import Projector

__all__ = ["BoundDynamics", "Encoded", "WorldModel"]


@dataclass(frozen=True)
class Encoded:
    """A batch of encoded states.

    Attributes:
        services: per-service embeddings. Shape: [B, N, d].
        state: state embedding. Shape: [B, E].
        z: latent. Shape: [B, D].
    """

    services: torch.Tensor
    state: torch.Tensor
    z: torch.Tensor


class WorldModel(nn.Module):
    """The JEPA world model: ``encode`` states, ``embed_action``, ``predict`` the next latent."""

    def __init__(self, config: WorldModelConfig | None = None) -> None:
        super().__init__()
        cfg = config or WorldModelConfig()
        self.config = cfg
        self.encoder = GraphStateEncoder(cfg.encoder)
        self.projector = Projector(cfg.encoder.embed_dim, cfg.projector)
        self.action_embedding = ActionEmbedding(
            cfg.num_action_types, cfg.encoder.d_model, cfg.predictor.action_dim
        )
        self.predictor = LatentPredictor(cfg.projector.latent_dim, cfg.predictor)

    @property
    def latent_dim(self) -> int:
        return self.config.projector.latent_dim

    def encode(self, batch: GraphBatch) -> Encoded:
        out = self.encoder(batch)
        return Encoded(services=out.services, state=out.state, z=self.projector(out.state))

    def embed_action(
        self, services: torch.Tensor, type_ids: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        """Shape: services [B or 1, N, d], type_ids [B], target_ids [B] -> [B, A]."""
        return self.action_embedding(services, type_ids, target_ids)

    def predict(self, z: torch.Tensor, action_emb: torch.Tensor) -> torch.Tensor:
        """Shape: z [B, D], action_emb [B, A] -> z_next_hat [B, D]."""
        return self.predictor(z, action_emb)

    @torch.inference_mode()
    def bind(
        self,
        services: torch.Tensor,
        type_ids: torch.Tensor,
        target_ids: torch.Tensor,
        *,
        precision: str = "fp32",
    ) -> BoundDynamics:
        """Bind to one state's per-service embeddings [N, d] (or [1, N, d]) and the action layout.

        ``type_ids``/``target_ids`` [K] describe the flat action space (see ``ActionSpace``);
        ``precision`` is the planning precision ("fp32", "bf16" or "auto").
        """
        if services.dim() == 2:
            services = services.unsqueeze(0)  # [1, N, d]
        if type_ids.shape != target_ids.shape or type_ids.dim() != 1:
            raise ShapeError("type_ids and target_ids must both be [K]")
        table = self.predictor.condition(
            self.embed_action(services, type_ids, target_ids)
        )  # [K, C]
        return BoundDynamics(self.predictor, table, precision)


class BoundDynamics:
    """The predictor packed with one state's per-action table; a ``LatentDynamics``.

    ``step(z [B, D], actions [B])`` runs under ``torch.inference_mode``; ``precision`` is the
    packed predictor's (``"fp32"`` or ``"bf16"``, see :mod:`aither_wm.models.packed`).
    """

    def __init__(
        self, predictor: LatentPredictor, table: torch.Tensor, precision: str = "fp32"
    ) -> None:
        self._packed = PackedPredictor(predictor, table, precision)
        self.precision = self._packed.precision
        self.num_actions = self._packed.num_actions
        self.latent_dim = predictor.latent_dim

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or actions.shape != z.shape[:1]:
            raise ShapeError(
                f"step takes z [B, D] and actions [B], got {tuple(z.shape)}, {tuple(actions.shape)}"
            )
        if torch.is_inference_mode_enabled():  # planners call from inside it: skip re-entering
            return self._packed.step(z, actions)  # [B, D]
        with torch.inference_mode():
            return self._packed.step(z, actions)
