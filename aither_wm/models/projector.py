"""Projector: state embedding [B, E] -> latent z [B, D] via Linear -> BatchNorm1d -> GELU -> Linear.

BatchNorm (not a final LayerNorm) as in LeWM: a LayerNorm at the end stopped SIGReg from being
optimised there. SIGReg is applied to this output.
"""

from __future__ import annotations

import torch
from torch import nn

from aither_wm.config import ProjectorConfig

__all__ = ["Projector"]


class Projector(nn.Module):
    """Shape: [B, E] -> [B, D]."""

    def __init__(self, in_dim: int, config: ProjectorConfig | None = None) -> None:
        super().__init__()
        cfg = config or ProjectorConfig()
        self.config = cfg
        self.net = nn.Sequential(
            nn.Linear(in_dim, cfg.hidden_dim),
            nn.BatchNorm1d(cfg.hidden_dim),
            nn.GELU(),
            nn.Linear(cfg.hidden_dim, cfg.latent_dim),
        )

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return self.net(emb)
