"""Health read-outs on known data, the target prior, the health objective with a planner, and
the rollout trainer on a tiny run."""

import numpy as np
import pytest
import torch
from eval_helpers import TINY

from aither_wm.errors import ShapeError
from aither_wm.eval.data import ExplorePolicy, collect, training_scenarios
from aither_wm.eval.health import (
    HealthObjective,
    fit_health_head,
    fit_probe,
    target_prior_costs,
)
from aither_wm.eval.health_fit import HealthFitConfig, fit_health_model
from aither_wm.models import WorldModel
from aither_wm.planning import CEMConfig, CEMPlanner, action_costs
from aither_wm.planning.testing import MLPDynamics


def test_probe_recovers_a_linear_health_code():
    g = torch.Generator().manual_seed(0)
    T, D, N = 600, 7, 3
    z = torch.randn(T, D, generator=g)
    # service n is degraded when z_n > 0.5, down when z_n > 1.5
    health = (z[:, :N] > 0.5).long() + (z[:, :N] > 1.5).long()  # [T, N]
    probe = fit_probe(z[:400], health[:400])
    score = probe.score(z[400:], health[400:])
    assert score["accuracy"] > 0.95 and score["majority_accuracy"] < 0.8
    assert score["unhealthy_recall"] > 0.9 and score["balanced_accuracy"] > 0.85


def test_health_head_separates_violation_and_reads_services():
    g = torch.Generator().manual_seed(1)
    T, D, N, d = 500, 5, 4, 6
    z = torch.randn(T, D, generator=g)
    violated = z[:, 0] > 0.0
    frac = torch.sigmoid(2 * z[:, 1])
    services = torch.randn(T, N, d, generator=g)
    bad = services[..., 2] > 0.3
    head = fit_health_head(z, violated, frac, services=services, unhealthy=bad)
    p_slo, p_frac = head.probabilities(z)
    assert ((p_slo > 0.5) == violated).float().mean() > 0.97
    assert torch.corrcoef(torch.stack([p_frac, frac]))[0, 1] > 0.95
    assert ((head.service_probabilities(services) > 0.5) == bad).float().mean() > 0.97


def test_target_prior_costs_known_answer():
    costs = torch.tensor([0.0, 0.05, 0.05, 0.03])
    targets = torch.tensor([-1, 0, 1, 1])
    p = torch.tensor([0.9, 0.2])  # service 0 looks broken, service 1 healthy
    out = target_prior_costs(costs, targets, p, 1.0)
    assert torch.allclose(out, torch.tensor([0.0, 0.05 + 0.1, 0.05 + 0.8, 0.03 + 0.8]))
    with pytest.raises(ShapeError):
        target_prior_costs(costs, targets[:3], p, 1.0)


def test_health_objective_makes_cem_pick_the_healing_action():
    """Latent dim 0 is 'sickness'; action 2 lowers it; the head reads dim 0 as P(violation)."""
    D, K = 4, 5
    z = torch.zeros(200, D)
    z[:, 0] = torch.linspace(-3, 3, 200)
    head = fit_health_head(z, z[:, 0] > 0, (z[:, 0] > 0).float())

    class Heal:
        num_actions, latent_dim = K, D

        def step(self, zz, a):
            out = zz.clone()
            out[:, 0] = torch.where(a == 2, zz[:, 0] - 4.0, zz[:, 0])
            return out

    z0 = torch.tensor([2.0, 0.0, 0.0, 0.0])
    obj = HealthObjective(
        goal=torch.zeros(D), action_cost=action_costs(torch.tensor([0, 1, 1, 2, 2])), head=head
    )
    plan = CEMPlanner(CEMConfig(horizon=3, num_samples=64, num_elites=8)).plan(
        Heal(), z0, obj, torch.ones(K, dtype=torch.bool), seed=0
    )
    assert plan.first_action == 2
    # nothing to heal: waiting wins
    calm = CEMPlanner(CEMConfig(horizon=3, num_samples=64, num_elites=8)).plan(
        Heal(), -z0, obj, torch.ones(K, dtype=torch.bool), seed=0
    )
    assert calm.first_action == 0
    assert isinstance(MLPDynamics, type)  # the planning test doubles stay importable


def test_rollout_trainer_runs_and_is_seeded(boutique):
    eps = collect(boutique, training_scenarios(seed=0, episodes=4, steps=8, faults=["cache_down"]),
                  behaviour=ExplorePolicy())  # fmt: skip
    assert eps[0].health.shape == (9, boutique.num_services) and eps[0].violated.shape == (9,)
    cfg = HealthFitConfig(steps=6, batch_size=4, rollout_steps=3)
    out = []
    for _ in range(2):
        torch.manual_seed(0)
        model = WorldModel(TINY)
        head, rep = fit_health_model(model, {boutique: eps}, cfg)
        out.append([r[0] for r in rep.history])
        assert rep.windows == 4 * (8 - 3 + 1) and np.isfinite(rep.final["total"])
        assert head.service is not None and not model.training
    assert out[0] == out[1]
