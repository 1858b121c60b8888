"""Helpers for planner tests: tiny problems with distinct dimensions (N 5, K 21, D 10 / 12).

A plain module (not a conftest) so test files import it by a name no other test folder uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aither_wm.planning import (
    BeamPlanner,
    CEMConfig,
    CEMPlanner,
    MCTSConfig,
    MCTSPlanner,
    PlanObjective,
    action_costs,
    flat_type_ids,
)
from aither_wm.planning.testing import KnownOptimumDynamics, MLPDynamics

N_SERVICES = 5
K = 1 + 4 * N_SERVICES
#: Fixing type per service: restart, scale_out, scale_in, rollback, scale_out.
FIX_TYPES = (1, 2, 3, 4, 2)


@dataclass
class Problem:
    dynamics: object
    z0: torch.Tensor
    objective: PlanObjective
    mask: torch.Tensor

    def args(self) -> tuple:
        return self.dynamics, self.z0, self.objective, self.mask


class CountingDynamics:
    """Wraps a LatentDynamics and records the batch size of every step call."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.num_actions = inner.num_actions
        self.latent_dim = inner.latent_dim
        self.calls: list[int] = []

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and actions.shape == (z.shape[0],) and actions.dtype == torch.long
        self.calls.append(z.shape[0])
        return self.inner.step(z, actions)


class GarbageDynamics:
    """Wraps a LatentDynamics; action ``bad`` (None: every action) predicts an infinite latent."""

    def __init__(self, inner, bad: int | None = None) -> None:
        self.inner, self.bad = inner, bad
        self.num_actions, self.latent_dim = inner.num_actions, inner.latent_dim

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        out = self.inner.step(z, actions)
        hit = (
            torch.ones_like(actions, dtype=torch.bool) if self.bad is None else actions == self.bad
        )
        return torch.where(hit[:, None], torch.full_like(out, float("inf")), out)


def all_planners(horizon: int = 3) -> list:
    return [
        CEMPlanner(CEMConfig(horizon=horizon)),
        MCTSPlanner(MCTSConfig(horizon=horizon)),
        BeamPlanner(horizon=horizon),
    ]


def known_model() -> KnownOptimumDynamics:
    return KnownOptimumDynamics(num_services=N_SERVICES, fix_types=FIX_TYPES, harm=0.1)


def known_problem(model: KnownOptimumDynamics, faults: dict[int, float], mask=None) -> Problem:
    objective = PlanObjective(
        goal=model.goal(), action_cost=action_costs(flat_type_ids(N_SERVICES))
    )
    if mask is None:
        mask = torch.ones(model.num_actions, dtype=torch.bool)
    return Problem(model, model.faulty_latent(faults), objective, mask)


def mlp_problem() -> Problem:
    model = MLPDynamics(num_actions=K, latent_dim=12, hidden_dim=24, embed_dim=6, seed=3)
    g = torch.Generator().manual_seed(7)
    z0 = torch.randn(12, generator=g)
    goal = torch.randn(12, generator=g)
    objective = PlanObjective(goal=goal, action_cost=action_costs(flat_type_ids(N_SERVICES)))
    return Problem(model, z0, objective, torch.ones(K, dtype=torch.bool))
