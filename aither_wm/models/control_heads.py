"""Read-outs of per-service tokens for control: SLO cost, value, per-service health.

* ``cost``: one step's SLO cost of the state (violated 0/1 + the entry points' unavailability,
  the simulator's and the oracle's unit), in [0, 2];
* ``value``: the cost from the state on over the value horizon T (a restarted cache still
  warming up is cheap here and costly in ``cost``), in [0, 2T];
* ``service``: logit of "this service is not healthy", per token (graph-size agnostic).

Cost and value read a pooled view of the tokens (mean and max over services: one broken service
anywhere is enough to hurt), through a small MLP; their outputs are bounded by a scaled sigmoid
so a rollout that drifts off the data cannot promise a negative cost.

Glossary: B batch, N services, d token width, T value horizon.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ControlHeads"]


def _mlp(d_in: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, 1))


class ControlHeads(nn.Module):
    """Cost, value and per-service health read from tokens [..., N, d]."""

    def __init__(self, d_model: int, hidden: int, value_horizon: int) -> None:
        super().__init__()
        self.value_horizon = value_horizon
        self.norm = nn.LayerNorm(d_model)
        self.cost_mlp = _mlp(2 * d_model, hidden)
        self.value_mlp = _mlp(2 * d_model, hidden)
        self.service = nn.Linear(d_model, 1)

    def pooled(self, tokens: torch.Tensor) -> torch.Tensor:
        """Shape: [..., N, d] -> [..., 2d] (mean and max over services)."""
        h = self.norm(tokens)
        return torch.cat([h.mean(-2), h.amax(-2)], dim=-1)

    def cost_logit(self, tokens: torch.Tensor) -> torch.Tensor:
        """Shape: [..., N, d] -> [...]."""
        return self.cost_mlp(self.pooled(tokens)).squeeze(-1)

    def value_logit(self, tokens: torch.Tensor) -> torch.Tensor:
        """Shape: [..., N, d] -> [...]."""
        return self.value_mlp(self.pooled(tokens)).squeeze(-1)

    def cost(self, tokens: torch.Tensor) -> torch.Tensor:
        """Predicted step cost in [0, 2]. Shape: [..., N, d] -> [...]."""
        return 2.0 * torch.sigmoid(self.cost_logit(tokens))

    def value(self, tokens: torch.Tensor) -> torch.Tensor:
        """Predicted cost over the value horizon, in [0, 2T]. Shape: [..., N, d] -> [...]."""
        return 2.0 * self.value_horizon * torch.sigmoid(self.value_logit(tokens))

    def service_logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Per-service "not healthy" logits. Shape: [..., N, d] -> [..., N]."""
        return self.service(tokens).squeeze(-1)
