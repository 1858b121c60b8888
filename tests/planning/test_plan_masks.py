"""No planner ever returns a masked action, at any step (property test over random masks)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from plan_helpers import N_SERVICES, K, all_planners, known_model, known_problem, mlp_problem

PLANNERS = all_planners()

masks = st.lists(st.booleans(), min_size=K, max_size=K).filter(any)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(mask=masks, seed=st.integers(0, 2**31 - 1), fault=st.integers(0, N_SERVICES - 1))
def test_known_model_plans_respect_random_masks(mask, seed, fault):
    model = known_model()
    valid = torch.tensor(mask)
    p = known_problem(model, {fault: 1.0}, mask=valid)
    for planner in PLANNERS:
        r = planner.plan(*p.args(), seed=seed)
        assert all(bool(valid[a]) for a in r.actions), (planner.name, r.actions)
        if valid[model.fixing_action(fault)]:
            assert r.first_action == model.fixing_action(fault), planner.name


@settings(max_examples=15, deadline=None, derandomize=True)
@given(mask=masks, seed=st.integers(0, 2**31 - 1))
def test_mlp_plans_respect_random_masks(mask, seed):
    p = mlp_problem()
    valid = torch.tensor(mask)
    for planner in PLANNERS:
        r = planner.plan(p.dynamics, p.z0, p.objective, valid, seed=seed)
        assert all(bool(valid[a]) for a in r.actions), (planner.name, r.actions)


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.name)
def test_only_noop_valid_gives_all_noop(planner):
    model = known_model()
    only_noop = torch.zeros(K, dtype=torch.bool)
    only_noop[0] = True
    p = known_problem(model, {2: 1.0}, mask=only_noop)
    assert planner.plan(*p.args(), seed=0).actions == (0, 0, 0)


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.name)
def test_single_valid_targeted_action(planner):
    """Noop masked too: the one valid action fills every step."""
    model = known_model()
    one = torch.zeros(K, dtype=torch.bool)
    one[5] = True
    p = known_problem(model, {2: 1.0}, mask=one)
    assert planner.plan(*p.args(), seed=0).actions == (5, 5, 5)


@pytest.mark.parametrize("planner", PLANNERS, ids=lambda p: p.name)
def test_masked_fix_is_never_chosen(planner):
    model = known_model()
    mask = torch.ones(K, dtype=torch.bool)
    mask[model.fixing_action(3)] = False
    p = known_problem(model, {3: 1.0}, mask=mask)
    r = planner.plan(*p.args(), seed=0)
    assert model.fixing_action(3) not in r.actions
