"""ServiceTokenPredictor: per-service tokens and an action -> the next per-service tokens.

The pooled latent z mixes every service into one vector, and a linear probe on it cannot tell
which service is faulty (docs/results.md); the encoder's per-service tokens can. This predictor
works on them: the action is injected at its TARGET's token only (a learned embedding of its
type, added to the token and to that token's AdaLN conditioning), then relation-biased attention
blocks (the encoder's :class:`~aither_wm.models.encoder.RelationBlock`) carry the effect along the
dependency graph. Restarting a symptomatic caller and restarting the dead cache it calls are two
different inputs, on two different tokens. (An embedding of the type on EVERY token was tried: it
lets the model learn each type's average effect regardless of the state, a shortcut; the exam's
regret was higher with it, docs/results.md.)

The output layer starts at zero, so an untrained predictor is the "nothing changes" baseline.

Glossary: B batch, N services, d token width, R relations.
"""

from __future__ import annotations

import torch
from torch import nn

from aither_wm.config import EncoderConfig, TokenPredictorConfig
from aither_wm.errors import ShapeError
from aither_wm.models.encoder import RelationBlock

__all__ = ["ServiceTokenPredictor"]


class ServiceTokenPredictor(nn.Module):
    """(tokens [B, N, d], type ids [B], target ids [B] (-1: none), rel [B or 1, N, N]) ->
    next tokens [B, N, d]."""

    def __init__(
        self, d_model: int, num_types: int, config: TokenPredictorConfig | None = None
    ) -> None:
        super().__init__()
        cfg = config or TokenPredictorConfig()
        if d_model % cfg.num_heads:
            raise ShapeError(f"num_heads ({cfg.num_heads}) must divide d_model ({d_model})")
        self.config = cfg
        block_cfg = EncoderConfig(
            d_model=d_model, num_layers=cfg.num_layers, num_heads=cfg.num_heads,
            mlp_ratio=cfg.mlp_ratio, embed_dim=d_model,
        )  # fmt: skip
        self.at_target = nn.Embedding(num_types, d_model)
        self.blocks = nn.ModuleList(RelationBlock(block_cfg) for _ in range(cfg.num_layers))
        self.out_norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, d_model)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self,
        tokens: torch.Tensor,
        type_ids: torch.Tensor,
        target_ids: torch.Tensor,
        rel: torch.Tensor,
    ) -> torch.Tensor:
        if (
            tokens.dim() != 3
            or type_ids.shape != tokens.shape[:1]
            or target_ids.shape != type_ids.shape
        ):
            raise ShapeError(
                f"expected tokens [B, N, d], type_ids [B], target_ids [B], got "
                f"{tuple(tokens.shape)}, {tuple(type_ids.shape)}, {tuple(target_ids.shape)}"
            )
        B, N, _ = tokens.shape
        if rel.dim() != 3 or rel.shape[-2:] != (N, N):
            raise ShapeError(f"rel must be [B or 1, {N}, {N}], got {tuple(rel.shape)}")
        hit = torch.arange(N, device=tokens.device)[None, :] == target_ids[:, None]  # [B, N]
        cond = hit[..., None].to(tokens.dtype) * self.at_target(type_ids)[:, None, :]  # [B, N, d]
        rel = rel.expand(B, N, N)  # [B, N, N] view
        pad = tokens.new_zeros(B, 1, 1, N)  # [B, 1, 1, N]: no padding
        h = tokens + cond  # [B, N, d]
        for block in self.blocks:
            h = block(h, cond, rel, pad)
        return tokens + self.out(self.out_norm(h))  # [B, N, d]
