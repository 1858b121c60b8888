"""GraphStateEncoder: a graph transformer over services with AdaLN conditioning.

Tokens are services. Each token starts from its full feature row; every block's LayerNorms are
modulated (AdaLN-Zero) by an embedding of the service's *structural* features (kind, degree, depth),
so the same metrics mean different things for a cache and a frontend. Attention is over all
services, biased per head by the dependency relation between the pair (self, calls hard/soft,
called-by hard/soft, none): structure steers attention without cutting off the rest of the mesh.
Padding services are masked out of attention and pooling.

Outputs per-service embeddings [B, N, d] and a pooled state embedding [B, E] (E = 768 by default)
from a masked mean and max over services: the pooled embedding does not depend on service order.

Glossary: B batch, N services, F features, S structural features, d model width, E embedding size,
H heads, R relations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from aither_wm.config import EncoderConfig
from aither_wm.graph.features import FEATURE_DIM, NUM_RELATIONS, STRUCT_DIM, GraphBatch
from aither_wm.models.adaln import AdaLNModulation, modulate

__all__ = ["EncoderOutput", "GraphStateEncoder", "RelationBlock"]


@dataclass(frozen=True)
class EncoderOutput:
    """Encoder outputs.

    Attributes:
        services: per-service embeddings. Shape: [B, N, d] (zeros on padding).
        state: pooled state embedding. Shape: [B, E].
    """

    services: torch.Tensor
    state: torch.Tensor


class RelationBlock(nn.Module):
    """Pre-norm transformer block, AdaLN-Zero on both sub-layers, relation-biased attention."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        d, self.h = cfg.d_model, cfg.num_heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.mod = AdaLNModulation(d, d, num_sites=2)
        self.rel_bias = nn.Embedding(NUM_RELATIONS, self.h)
        nn.init.zeros_(self.rel_bias.weight)
        self.dropout = cfg.dropout

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, rel: torch.Tensor, pad: torch.Tensor
    ) -> torch.Tensor:
        """x [B, N, d], cond [B, N, d], rel [B, N, N] uint8, pad [B, 1, 1, N] additive mask."""
        B, N, d = x.shape
        sh1, sc1, g1, sh2, sc2, g2 = self.mod(cond).chunk(6, dim=-1)  # each [B, N, d]
        q, k, v = self.qkv(modulate(self.norm1(x), sh1, sc1)).chunk(3, dim=-1)  # [B, N, d] each
        q, k, v = (
            t.view(B, N, self.h, d // self.h).transpose(1, 2) for t in (q, k, v)
        )  # [B, H, N, d/H]
        bias = self.rel_bias(rel.long()).permute(0, 3, 1, 2) + pad  # [B, H, N, N]
        drop = self.dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=drop
        )  # [B, H, N, d/H]
        a = a.transpose(1, 2).reshape(B, N, d)  # [B, N, d]
        x = x + g1 * self.out(a)
        return x + g2 * self.mlp(modulate(self.norm2(x), sh2, sc2))


class GraphStateEncoder(nn.Module):
    """GraphBatch -> per-service embeddings [B, N, d] and a pooled state embedding [B, E]."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        cfg = config or EncoderConfig()
        self.config = cfg
        d = cfg.d_model
        self.embed = nn.Linear(FEATURE_DIM, d)
        self.cond = nn.Sequential(nn.Linear(STRUCT_DIM, d), nn.GELU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(RelationBlock(cfg) for _ in range(cfg.num_layers))
        self.norm = nn.LayerNorm(d)
        self.pool = nn.Linear(2 * d, cfg.embed_dim)

    def forward(self, batch: GraphBatch) -> EncoderOutput:
        x, rel, mask = batch.x, batch.rel, batch.mask  # [B, N, F], [B, N, N], [B, N]
        cond = self.cond(x[..., :STRUCT_DIM])  # [B, N, d]
        h = self.embed(x)  # [B, N, d]
        pad = torch.zeros(mask.shape, dtype=h.dtype, device=h.device)
        pad = pad.masked_fill(~mask, float("-inf"))[:, None, None, :]  # [B, 1, 1, N]
        for block in self.blocks:
            h = block(h, cond, rel, pad)
        keep = mask.unsqueeze(-1).to(h.dtype)  # [B, N, 1]
        h = self.norm(h) * keep  # [B, N, d]
        mean = h.sum(1) / keep.sum(1).clamp_min(1.0)  # [B, d]
        mx = h.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)  # [B, d]
        state = self.pool(torch.cat([mean, mx], dim=-1))  # [B, E]
        return EncoderOutput(services=h, state=state)
