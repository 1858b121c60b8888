"""Categorical CEM: batching against the per-sample loop, root cache, warm start, config."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_helpers import (
    CountingDynamics,
    GarbageDynamics,
    K,
    known_model,
    known_problem,
    mlp_problem,
)

import aither_wm.planning.cem as cem_module
from aither_wm.errors import PlanningError
from aither_wm.planning import BeamPlanner, CEMConfig, CEMPlanner, PlanObjective, cem_plan_loop
from aither_wm.planning.cem import _distinct

SMALL = CEMConfig(num_samples=60, num_elites=8, iterations=3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_batched_agrees_with_the_per_sample_loop_on_mlp(seed):
    p = mlp_problem()
    batched = CEMPlanner(SMALL).plan(*p.args(), seed=seed)
    loop = cem_plan_loop(*p.args(), seed=seed, config=SMALL)
    assert batched.actions == loop.actions
    # same objective; the loop's latents come from one-row calls, the planner's from batches
    assert batched.cost == pytest.approx(loop.cost, rel=1e-5, abs=1e-7)
    assert loop.stats.planner == "cem_loop"


def test_batched_agrees_with_the_per_sample_loop_on_known_model():
    model = known_model()
    p = known_problem(model, {0: 1.0, 3: 0.5})
    batched = CEMPlanner().plan(*p.args(), seed=4)
    loop = cem_plan_loop(*p.args(), seed=4)
    assert batched.actions == loop.actions
    assert batched.cost == pytest.approx(loop.cost, rel=1e-5, abs=1e-7)
    assert batched.first_action == model.fixing_action(0)
    assert batched.stats.rows_evaluated < loop.stats.rows_evaluated


def test_prefix_sharing_is_exact():
    p = mlp_problem()
    cfg = SMALL.model_copy(update={"use_prefix_sharing": False})
    shared = CEMPlanner(SMALL).plan(*p.args(), seed=3)
    plain = CEMPlanner(cfg).plan(*p.args(), seed=3)
    assert shared.actions == plain.actions
    assert shared.cost == pytest.approx(plain.cost, rel=1e-5, abs=1e-7)
    assert shared.stats.rows_evaluated <= plain.stats.rows_evaluated


def test_one_root_call_then_one_call_per_remaining_step_per_iteration():
    p = mlp_problem()
    spy = CountingDynamics(p.dynamics)
    cfg = CEMConfig(horizon=4, num_samples=50, num_elites=5, carried_elites=2, iterations=3)
    r = CEMPlanner(cfg).plan(spy, p.z0, p.objective, p.mask, seed=0)
    mask_rows = int(p.mask.sum())
    # root (K rows), 3 iterations x 3 steps; the plan's latents come from the cache (no call)
    assert spy.calls[0] == mask_rows
    assert len(spy.calls) == 1 + 3 * 3
    assert max(spy.calls[1:]) <= 50  # no iteration steps more rows than it samples
    assert spy.calls[1] <= 50 and spy.calls[4] <= 48  # carried elites are not re-scored
    assert r.stats.rows_evaluated == sum(spy.calls) and r.stats.iterations == 3


def test_root_cache_only_steps_valid_actions():
    p = mlp_problem()
    mask = torch.zeros(K, dtype=torch.bool)
    mask[[0, 4, 9]] = True
    spy = CountingDynamics(p.dynamics)
    CEMPlanner(SMALL).plan(spy, p.z0, p.objective, mask, seed=0)
    assert spy.calls[0] == 3


def test_warm_start_reuses_the_previous_plan_and_reset_forgets_it():
    model = known_model()
    p = known_problem(model, {1: 1.0})
    planner = CEMPlanner(CEMConfig(iterations=1, num_samples=20, num_elites=4, carried_elites=1))
    first = planner.plan(*p.args(), seed=0)
    assert planner._warm is not None
    # After the fix the state is healthy; the shifted plan (seeded into the samples) is a plan
    # to wait, and a warm-started decision must be at least as good as that.
    healthy = known_problem(model, {})
    warm = planner.plan(*healthy.args(), seed=1)
    shifted = (*first.actions[1:], 0)
    from aither_wm.planning import evaluate

    shifted_cost = float(
        evaluate(model, healthy.z0, torch.tensor([shifted]), healthy.objective)[0][0]
    )
    assert warm.cost <= shifted_cost
    planner.reset()
    assert planner._warm is None
    cold = CEMPlanner(planner.config).plan(*healthy.args(), seed=1)
    assert planner.plan(*healthy.args(), seed=1).actions == cold.actions


def test_warm_start_ignores_a_plan_of_another_shape():
    p = mlp_problem()
    planner = CEMPlanner(SMALL)
    planner.plan(*p.args(), seed=0)
    model = known_model()  # K = 21 as well but other problem: still a valid plan comes out
    q = known_problem(model, {2: 1.0})
    assert planner.plan(*q.args(), seed=0).first_action == model.fixing_action(2)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_elites": 301},
        {"carried_elites": 31},
        {"momentum": 1.0},
        {"horizon": 0},
        {"unknown": 1},
        {"deadline_ms": 0.0},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(pydantic.ValidationError):
        CEMConfig(**kwargs)


def test_config_defaults_and_frozen():
    cfg = CEMConfig()
    assert (cfg.horizon, cfg.num_samples, cfg.num_elites, cfg.iterations) == (3, 300, 30, 3)
    assert (cfg.momentum, cfg.smoothing, cfg.carried_elites) == (0.1, 0.01, 3)
    assert cfg.use_warm_start and cfg.deadline_ms is None
    with pytest.raises(pydantic.ValidationError):
        cfg.horizon = 5  # type: ignore[misc]


def test_root_prior_concentrates_the_first_table_on_helpful_actions_and_saves_rows():
    model = known_model()
    p = known_problem(model, {0: 1.0, 3: 0.5})
    uniform = CEMConfig(root_prior_weight=0.0)
    with_prior, without = (
        CEMPlanner().plan(*p.args(), seed=4),
        CEMPlanner(uniform).plan(*p.args(), seed=4),
    )
    oracle = BeamPlanner(horizon=3, beam_width=None).plan(*p.args(), seed=0)
    fixes = {model.fixing_action(0), model.fixing_action(3)}
    assert set(oracle.actions[:2]) == fixes  # the known optimum: fix both, then wait
    assert with_prior.actions == oracle.actions
    assert with_prior.cost == pytest.approx(oracle.cost, rel=1e-5, abs=1e-7)
    assert without.first_action in fixes and without.cost >= with_prior.cost - 1e-6
    assert with_prior.stats.rows_evaluated < 0.8 * without.stats.rows_evaluated


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_distinct_prefix_codes_match_numpy_unique(values):
    codes = np.array(values, dtype=np.int64)
    assert np.array_equal(_distinct(codes), np.unique(codes))


class _Float64:
    """A LatentDynamics computing in float64 (the known-optimum model, cast)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.num_actions, self.latent_dim = inner.num_actions, inner.latent_dim

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.inner.step(z.float(), actions).double()


def test_float64_model_plans_like_float32():
    """A float64 model plans through the numpy bookkeeping and finds the float32 model's fix."""
    model = known_model()
    p = known_problem(model, {0: 1.0, 3: 0.5})
    obj = PlanObjective(goal=p.objective.goal.double(), action_cost=p.objective.action_cost)
    res = CEMPlanner().plan(_Float64(model), p.z0.double(), obj, p.mask, seed=0)
    ref = CEMPlanner().plan(*p.args(), seed=0)
    assert res.actions == ref.actions
    assert res.latents.dtype == torch.float64


def test_root_prior_ranks_non_finite_one_step_costs_last():
    model = known_model()
    p = known_problem(model, {0: 1.0, 3: 0.5})
    ref = CEMPlanner().plan(*p.args(), seed=0)
    bad = next(a for a in range(1, K) if a not in ref.actions)
    res = CEMPlanner().plan(GarbageDynamics(model, bad), p.z0, p.objective, p.mask, seed=0)
    assert res.actions == ref.actions and math.isfinite(res.cost)


def test_every_cost_non_finite_is_a_planning_error():
    model = known_model()
    p = known_problem(model, {0: 1.0})
    with pytest.raises(PlanningError, match="non-finite"):
        CEMPlanner().plan(GarbageDynamics(model, None), p.z0, p.objective, p.mask, seed=0)


def test_more_valid_actions_than_samples_times_iterations():
    """The first level's parents are all Kv root rows, even when S * iterations < Kv."""
    p = mlp_problem()
    cfg = CEMConfig(
        num_samples=8, num_elites=2, carried_elites=1, iterations=2, root_prior_weight=0.0
    )  # a uniform first table draws first actions past row S * iterations
    assert cfg.num_samples * cfg.iterations < int(p.mask.sum())
    batched = CEMPlanner(cfg).plan(*p.args(), seed=3)
    loop = cem_plan_loop(*p.args(), seed=3, config=cfg)
    assert batched.actions == loop.actions and all(bool(p.mask[a]) for a in batched.actions)


def test_sorted_and_dense_prefix_maps_give_the_same_plans(monkeypatch):
    """Large meshes use sorted code lists instead of dense tables: same rows, same plans."""
    p = mlp_problem()
    dense = [CEMPlanner(SMALL).plan(*p.args(), seed=s) for s in range(4)]
    monkeypatch.setattr(cem_module, "DENSE_CODES_MAX", 0)
    sorted_ = [CEMPlanner(SMALL).plan(*p.args(), seed=s) for s in range(4)]
    for a, b in zip(dense, sorted_, strict=True):
        assert (a.actions, a.cost, a.stats.rows_evaluated) == (
            b.actions,
            b.cost,
            b.stats.rows_evaluated,
        )
