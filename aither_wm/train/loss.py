"""The training objective: L = MSE(z_next_hat, z_next) + lambda * regulariser(encoder latents).

Two terms, as in LeWM. The regulariser sees encoder/projector outputs only (never predictor
outputs), once per time step (z_t and z_t+1 separately, then averaged), and the prediction target is
not detached unless ``use_stop_grad`` (ablation). With ``use_ema_target`` the target comes from an
EMA copy of encoder + projector (ablation; LeWM shows it is unnecessary with SIGReg).

Glossary: B batch, D latent.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aither_wm.config import TrainConfig
from aither_wm.models.world_model import WorldModel
from aither_wm.regularizers import SeedSIGReg, SIGReg, VICRegPenalty
from aither_wm.train.dataset import TransitionBatch

__all__ = ["EMATarget", "LossParts", "make_regularizer", "world_model_loss"]

Regularizer = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LossParts:
    """total = pred + lam * reg (all scalars); z: the batch's latents z_t [B, D] (detached)."""

    total: torch.Tensor
    pred: torch.Tensor
    reg: torch.Tensor
    z: torch.Tensor


def make_regularizer(config: TrainConfig) -> Regularizer:
    """The regulariser named by ``config.regularizer`` (a zero for "none")."""
    if config.regularizer == "sigreg":
        return SIGReg(num_slices=config.num_slices, seed=config.seed)
    if config.regularizer == "vicreg":
        return VICRegPenalty().compute
    if config.regularizer == "seed_sigreg":
        return SeedSIGReg().compute
    return lambda z: z.new_zeros(())


class EMATarget(nn.Module):
    """An exponential-moving-average copy of encoder + projector that encodes prediction targets."""

    def __init__(self, model: WorldModel, decay: float) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(model.encoder).requires_grad_(False)
        self.projector = copy.deepcopy(model.projector).requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: WorldModel) -> None:
        for mine, src in ((self.encoder, model.encoder), (self.projector, model.projector)):
            for p, q in zip(mine.parameters(), src.parameters(), strict=True):
                p.lerp_(q, 1.0 - self.decay)
            for b, c in zip(mine.buffers(), src.buffers(), strict=True):
                b.copy_(c)

    @torch.no_grad()
    def forward(self, batch: TransitionBatch) -> torch.Tensor:
        self.train(mode=self.training)
        return self.projector(self.encoder(batch.next_state).state)  # [B, D]


def world_model_loss(
    model: WorldModel,
    batch: TransitionBatch,
    regularizer: Regularizer,
    lam: float,
    *,
    ema: EMATarget | None = None,
    use_stop_grad: bool = False,
) -> LossParts:
    """One batch's loss. Both states go through the encoder in one call ([2B] rows)."""
    B = batch.type_ids.shape[0]
    both = type(batch.state)(
        torch.cat([batch.state.x, batch.next_state.x]),  # [2B, N, F]
        torch.cat([batch.state.rel, batch.next_state.rel]),  # [2B, N, N]
        torch.cat([batch.state.mask, batch.next_state.mask]),  # [2B, N]
    )
    enc = model.encode(both)
    z_t, z_next = enc.z[:B], enc.z[B:]  # [B, D] each
    a = model.embed_action(enc.services[:B], batch.type_ids, batch.target_ids)  # [B, A]
    z_hat = model.predict(z_t, a)  # [B, D]
    target = ema(batch) if ema is not None else z_next
    if use_stop_grad:
        target = target.detach()
    pred = F.mse_loss(z_hat, target)
    reg = 0.5 * (regularizer(z_t) + regularizer(z_next))
    return LossParts(total=pred + lam * reg, pred=pred.detach(), reg=reg.detach(), z=z_t.detach())
