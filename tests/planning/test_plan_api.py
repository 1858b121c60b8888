"""Public surface: results are frozen and typed, planners share one protocol, doubles behave."""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch
from plan_helpers import (
    CountingDynamics,
    GarbageDynamics,
    K,
    all_planners,
    known_model,
    known_problem,
    mlp_problem,
)

import aither_wm.planning as planning
from aither_wm.errors import ConfigError, PlanningError, ShapeError
from aither_wm.planning import Planner, PlanResult, PlanStats, evaluate, finish_plan
from aither_wm.planning.testing import KnownOptimumDynamics, MLPDynamics
from aither_wm.types import LatentDynamics


def test_all_names_resolve():
    for name in planning.__all__:
        assert hasattr(planning, name), name


@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_planners_share_the_protocol_and_result(planner):
    assert isinstance(planner, Planner)
    p = mlp_problem()
    r = planner.plan(*p.args(), seed=0)
    assert isinstance(r, PlanResult) and isinstance(r.stats, PlanStats)
    assert isinstance(r.first_action, int) and r.first_action == r.actions[0]
    assert isinstance(r.actions, tuple) and r.horizon == 3
    assert all(isinstance(a, int) for a in r.actions)
    assert isinstance(r.cost, float)
    assert r.stats.planner == planner.name and r.stats.latency_ms > 0
    assert r.stats.rows_evaluated > 0 and not r.stats.hit_deadline
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.cost = 0.0  # type: ignore[misc]


def test_test_doubles_are_latent_dynamics():
    mlp = MLPDynamics(num_actions=9, latent_dim=8, hidden_dim=16, embed_dim=4)
    known = KnownOptimumDynamics(num_services=2)
    assert isinstance(mlp, LatentDynamics) and isinstance(known, LatentDynamics)
    z = torch.randn(5, 8)
    assert mlp.step(z, torch.arange(5)).shape == (5, 8)
    with pytest.raises(ShapeError):
        known.step(torch.zeros(3, 5), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ConfigError):
        KnownOptimumDynamics(num_services=2, fix_types=[1, 5])


def test_mlp_bfloat16_pads_rows_and_returns_the_batch():
    kw = {"num_actions": 9, "latent_dim": 8, "hidden_dim": 16, "embed_dim": 4, "seed": 1}
    bf16, fp32 = MLPDynamics(**kw, dtype=torch.bfloat16), MLPDynamics(**kw)
    assert bf16.pad_rows == 32 and fp32.pad_rows == 1
    z, a = torch.randn(5, 8), torch.arange(5)
    out = bf16.step(z, a)
    assert out.shape == (5, 8) and out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), fp32.step(z, a), atol=0.1)  # same weights, rounded


@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_an_action_predicted_as_garbage_ranks_last_without_warnings(planner):
    model = known_model()
    p = known_problem(model, {0: 1.0, 3: 0.5})
    ref = planner.plan(*p.args(), seed=0)
    planner.reset()
    bad = next(a for a in range(1, K) if a not in ref.actions)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = planner.plan(GarbageDynamics(model, bad), p.z0, p.objective, p.mask, seed=0)
    assert res.actions == ref.actions and math.isfinite(res.cost)


@pytest.mark.parametrize("planner", all_planners(horizon=2), ids=lambda p: p.name)
def test_an_unusable_model_is_a_planning_error_without_warnings(planner):
    p = mlp_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PlanningError, match="non-finite"):
            planner.plan(GarbageDynamics(p.dynamics), p.z0, p.objective, p.mask, seed=0)


def test_finish_plan_scores_given_latents_without_calling_the_model():
    p = mlp_problem()
    seq = torch.tensor([0, 2, 1])
    _, rolled = evaluate(p.dynamics, p.z0, seq[None], p.objective)  # [1, 3, D]
    spy = CountingDynamics(p.dynamics)
    kw = {"planner": "x", "rows_evaluated": 0, "iterations": 0, "started_s": 0.0}
    r = finish_plan(spy, p.z0, p.objective, seq, hit_deadline=False, latents=rolled[0], **kw)
    assert spy.calls == [] and r.actions == (0, 2, 1)
    assert r.cost == float(p.objective.cost(rolled, seq[None])[0])
    again = finish_plan(spy, p.z0, p.objective, seq, hit_deadline=False, **kw)
    assert spy.calls == [1, 1, 1] and again.cost == r.cost  # no latents: rolled out again
    with pytest.raises(ShapeError, match=r"latents must be \[H=3, D=12\]"):
        finish_plan(spy, p.z0, p.objective, seq, hit_deadline=False, latents=rolled[0, :2], **kw)
