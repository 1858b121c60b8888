"""Protocols through which components meet without importing each other.

Planners never import a model class: they receive a :class:`LatentDynamics`, a world model bound
to one decision (one current state), which rolls latents forward under flat action indices.

Glossary: B batch, D latent size, K flat actions.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

__all__ = ["LatentDynamics"]


@runtime_checkable
class LatentDynamics(Protocol):
    """A latent transition function bound to one decision.

    Attributes:
        num_actions: K, the size of the flat action space (see ``aither_wm.graph.actions``).
        latent_dim: D.
    """

    num_actions: int
    latent_dim: int

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Predict the next latents.

        Shape:
            z: [B, D] float; actions: [B] long in [0, K); returns [B, D].
        """
        ...
