"""LatentPredictor: z_next_hat = z + f(z, a), the action injected through AdaLN in every block.

An action embeds as a learned type embedding plus a projection of the *target service's* encoder
output (no-op has no target), so the same predictor acts on graphs it has not seen. The action
path is split from the latent path: :meth:`condition` maps action embeddings to every block's
(shift, scale, gate) once, and :meth:`forward_conditioned` applies them. A planner that binds the
model to one state computes the conditioning table of all K actions once per decision (the
"folded" per-action table) and each rollout step is only the latent path.

The output layer starts at zero, so an untrained predictor is the "nothing changes" baseline.

Glossary: B batch, N services, d service-embedding width, A action width, D latent, W hidden.
"""

from __future__ import annotations

import torch
from torch import nn

from aither_wm.config import PredictorConfig
from aither_wm.errors import ShapeError
from aither_wm.models.adaln import AdaLNModulation, modulate

__all__ = ["ACTIVATIONS", "ActionEmbedding", "LatentPredictor"]


class ActionEmbedding(nn.Module):
    """(type id, target embedding) -> action embedding [B, A]."""

    def __init__(self, num_types: int, service_dim: int, action_dim: int) -> None:
        super().__init__()
        self.types = nn.Embedding(num_types, action_dim)
        self.target = nn.Sequential(
            nn.Linear(service_dim, action_dim), nn.GELU(), nn.Linear(action_dim, action_dim)
        )

    def forward(
        self, services: torch.Tensor, type_ids: torch.Tensor, target_ids: torch.Tensor
    ) -> torch.Tensor:
        """Shape: services [B, N, d], type_ids [B] long, target_ids [B] long (-1 = none) -> [B, A].

        ``services`` may also be [1, N, d] (one state shared by every row, as in planning).
        """
        if services.dim() != 3:
            raise ShapeError(f"services must be [B, N, d], got {tuple(services.shape)}")
        B = type_ids.shape[0]
        has_target = target_ids >= 0  # [B]
        idx = target_ids.clamp_min(0)  # [B]
        src = services.expand(B, -1, -1) if services.shape[0] == 1 else services  # [B, N, d]
        tgt = src[torch.arange(B, device=src.device), idx]  # [B, d]
        tgt_emb = self.target(tgt) * has_target.unsqueeze(-1).to(tgt.dtype)  # [B, A]
        return self.types(type_ids) + tgt_emb


#: The MLP activation of each ``PredictorConfig.activation``.
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "silu": nn.SiLU}


class _Block(nn.Module):
    def __init__(self, width: int, activation: str = "gelu") -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width), ACTIVATIONS[activation](), nn.Linear(2 * width, width)
        )

    def forward(
        self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, gate: torch.Tensor
    ) -> torch.Tensor:
        return x + gate * self.mlp(modulate(self.norm(x), shift, scale))


class LatentPredictor(nn.Module):
    """(z [B, D], action embedding [B, A]) -> z_next_hat [B, D]."""

    def __init__(self, latent_dim: int, config: PredictorConfig | None = None) -> None:
        super().__init__()
        cfg = config or PredictorConfig()
        self.config = cfg
        W = cfg.hidden_dim
        self.latent_dim = latent_dim
        self.inp = nn.Linear(latent_dim, W)
        self.blocks = nn.ModuleList(_Block(W, cfg.activation) for _ in range(cfg.num_blocks))
        self.mod = AdaLNModulation(cfg.action_dim, W, num_sites=cfg.num_blocks)
        self.out_norm = nn.LayerNorm(W)
        self.out = nn.Linear(W, latent_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def condition(self, action_emb: torch.Tensor) -> torch.Tensor:
        """Action embeddings -> per-block modulation. Shape: [B, A] -> [B, 3 * blocks * W]."""
        return self.mod(action_emb)

    def forward_conditioned(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Latent path with precomputed conditioning. Shape: z [B, D], cond [B, 3*blocks*W] -> [B, D]."""
        if z.dim() != 2 or z.shape[-1] != self.latent_dim:
            raise ShapeError(f"z must be [B, {self.latent_dim}], got {tuple(z.shape)}")
        h = self.inp(z)  # [B, W]
        parts = cond.chunk(3 * len(self.blocks), dim=-1)  # 3 * blocks x [B, W]
        for i, block in enumerate(self.blocks):
            h = block(h, parts[3 * i], parts[3 * i + 1], parts[3 * i + 2])
        return z + self.out(self.out_norm(h))  # [B, D]

    def forward(self, z: torch.Tensor, action_emb: torch.Tensor) -> torch.Tensor:
        return self.forward_conditioned(z, self.condition(action_emb))
