"""The control objective: learned SLO cost over the horizon, a terminal value, action costs.

For a plan ``a_0 .. a_{H-1}`` whose predicted latents are ``z_1 .. z_H``::

    cost = sum_{h=1..H-1} cost_fn(z_h) + value_fn(z_H) + sum_h c[a_h]

``cost_fn`` predicts one step's SLO cost of a state (violated + unavailability), ``value_fn`` the
cost from a state on over the value horizon (TD-MPC2's and MuZero's planning objective with
costs for rewards). Planners only know ``distance`` (one number per latent) and the step weights,
so the latents this objective scores carry their depth as their LAST coordinate (the control
model's bound dynamics counts steps there, see ``aither_wm.models.control_model``): ``distance``
is ``value_fn`` at depth H and ``cost_fn`` before. :meth:`prior_distance` is ``value_fn`` at any
depth, so priors rank first actions by what they are worth beyond the horizon.

The functions take the latent without its depth coordinate ([..., D - 1]) and are given by the
caller (e.g. a model's heads): the planning package never imports a model class.

Glossary: D latent size (depth coordinate included), H horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from aither_wm.errors import ConfigError, ShapeError
from aither_wm.planning.objective import PlanObjective

__all__ = ["ValueObjective"]

LatentFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True, eq=False)
class ValueObjective(PlanObjective):
    """See the module docstring.

    Attributes:
        cost_fn: one step's predicted SLO cost. [..., D - 1] -> [...]
        value_fn: predicted cost from a state on. [..., D - 1] -> [...]
        horizon: H, the depth whose latents get ``value_fn``.
    """

    cost_fn: LatentFn | None = None
    value_fn: LatentFn | None = None
    horizon: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cost_fn is None or self.value_fn is None:
            raise ConfigError("ValueObjective needs cost_fn and value_fn")
        if self.horizon < 1:
            raise ConfigError(f"horizon must be >= 1, got {self.horizon}")
        if self.step_weights is not None or self.discount != 1.0:
            raise ConfigError("ValueObjective weighs every step 1 (costs are summed, not decayed)")

    def weights(self, horizon: int) -> torch.Tensor:
        if horizon != self.horizon:
            raise ShapeError(
                f"this objective scores plans of horizon {self.horizon}, a planner asked for "
                f"{horizon}"
            )
        return super().weights(horizon)

    def _split(self, latents: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if latents.shape[-1] != self.latent_dim:
            raise ShapeError(
                f"latents must be [..., {self.latent_dim}], got {tuple(latents.shape)}"
            )
        return latents[..., :-1], latents[..., -1]  # [..., D - 1], [...] depth

    def distance(self, latents: torch.Tensor) -> torch.Tensor:
        """``value_fn`` at depth H, ``cost_fn`` before. Shape: [..., D] -> [...] float32."""
        assert self.cost_fn is not None and self.value_fn is not None
        body, depth = self._split(latents)
        with torch.inference_mode():
            at_end = depth >= self.horizon - 0.5  # [...]
            if bool(at_end.all()):
                return self.value_fn(body).float()
            cost = self.cost_fn(body).float()  # [...]
            if not bool(at_end.any()):
                return cost
            return torch.where(at_end, self.value_fn(body).float(), cost)

    def prior_distance(self, latents: torch.Tensor) -> torch.Tensor:
        """``value_fn`` at any depth. Shape: [..., D] -> [...] float32."""
        assert self.value_fn is not None
        body, _ = self._split(latents)
        with torch.inference_mode():
            return self.value_fn(body).float()
