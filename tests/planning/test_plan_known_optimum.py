"""Known answers: on a model where each service has one fixing action, every planner finds it."""

from __future__ import annotations

import pytest
import torch
from plan_helpers import N_SERVICES, all_planners, known_model, known_problem

from aither_wm.planning import BeamPlanner, CEMConfig, CEMPlanner, MCTSConfig, MCTSPlanner


@pytest.mark.parametrize("service", range(N_SERVICES))
@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_single_fault_first_action_is_the_fix(planner, service):
    model = known_model()
    fix = model.fixing_action(service)
    p = known_problem(model, {service: 1.0})
    r = planner.plan(*p.args(), seed=service)
    assert r.first_action == fix
    assert r.cost < 0.1  # the fix (<= 0.05) plus at most one cheap extra action


def test_fixes_are_not_all_restart_of_the_first_service():
    """The known model must not hide a planner bias towards flat index 1."""
    model = known_model()
    assert [model.fixing_action(i) for i in range(N_SERVICES)] == [1, 7, 13, 19, 10]


@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_two_faults_fix_the_worse_one_first_then_the_other(planner):
    model = known_model()
    p = known_problem(model, {2: 1.0, 4: 2.0})
    r = planner.plan(*p.args(), seed=0)
    assert r.first_action == model.fixing_action(4)
    assert r.actions[1] == model.fixing_action(2)


def test_beam_is_exact_on_two_faults():
    model = known_model()
    p = known_problem(model, {2: 1.0, 4: 2.0})
    r = BeamPlanner(horizon=3).plan(*p.args(), seed=0)
    assert r.actions == (model.fixing_action(4), model.fixing_action(2), 0)
    # scale_out, then service 2 still at fault 1 on 2 of 10 dims for one step, then scale_in
    assert r.cost == pytest.approx(0.03 + 2 / 10 + 0.02)


def test_healthy_state_plans_to_wait():
    model = known_model()
    p = known_problem(model, {})
    for planner in all_planners():
        assert planner.plan(*p.args(), seed=0).actions == (0, 0, 0), planner.name


@pytest.mark.parametrize(
    "planner",
    [CEMPlanner(CEMConfig(horizon=1)), MCTSPlanner(MCTSConfig(horizon=1)), BeamPlanner(horizon=1)],
    ids=lambda p: p.name,
)
def test_horizon_one(planner):
    model = known_model()
    p = known_problem(model, {1: 1.0})
    r = planner.plan(*p.args(), seed=0)
    assert r.actions == (model.fixing_action(1),) and r.latents.shape == (1, model.latent_dim)
    assert torch.count_nonzero(r.latents) == 0
