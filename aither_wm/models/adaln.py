"""Adaptive layer norm (AdaLN-Zero): a LayerNorm whose shift, scale and residual gate come from a
conditioning vector. Gates start at zero, so every conditioned block starts as the identity.

Glossary: B batch, N tokens, C conditioning width, W block width.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["AdaLNModulation", "modulate"]


class AdaLNModulation(nn.Module):
    """cond [..., C] -> (shift, scale, gate) for ``num_sites`` normalised sites, each [..., W].

    Zero-initialised: at start shift = scale = gate = 0, i.e. a plain LayerNorm and a closed gate.
    """

    def __init__(self, cond_dim: int, width: int, num_sites: int = 2) -> None:
        super().__init__()
        self.width, self.num_sites = width, num_sites
        self.proj = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 3 * num_sites * width))
        nn.init.zeros_(self.proj[1].weight)
        nn.init.zeros_(self.proj[1].bias)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """Shape: cond [..., C] -> [..., num_sites * 3 * W] (split with ``.chunk(3 * sites, -1)``)."""
        return self.proj(cond)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """AdaLN affine: x * (1 + scale) + shift. Shapes broadcast: x [..., W]."""
    return x * (1.0 + scale) + shift
