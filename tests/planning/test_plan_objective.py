"""The shared objective: known answers, cost identical across planners, shape errors."""

from __future__ import annotations

import pytest
import torch
from plan_helpers import K, all_planners, known_model, known_problem, mlp_problem

from aither_wm.errors import ConfigError, PlanningError, ShapeError
from aither_wm.planning import (
    ACTION_TYPE_NAMES,
    DEFAULT_COST_PER_TYPE,
    MCTSConfig,
    MCTSPlanner,
    PlanObjective,
    action_costs,
    evaluate,
    flat_type_ids,
    rollout,
)


def test_type_names_and_flat_ids_match_the_action_space():
    from aither_wm.graph import ACTION_TYPES, ActionSpace, graph_from_dict

    assert tuple(t.value for t in ACTION_TYPES) == ACTION_TYPE_NAMES
    graph = graph_from_dict(
        {
            "name": "tiny",
            "services": [{"name": f"s{i}", "kind": "service"} for i in range(3)],
            "edges": [{"from": "s0", "to": "s1"}, {"from": "s1", "to": "s2"}],
        }
    )
    assert torch.equal(flat_type_ids(3), ActionSpace(graph).type_ids())


def test_action_costs_defaults_overrides_and_sequences():
    ids = flat_type_ids(2)  # [9]: noop, restart x2, scale_out x2, scale_in x2, rollback x2
    c = action_costs(ids)
    expected = [DEFAULT_COST_PER_TYPE[ACTION_TYPE_NAMES[int(t)]] for t in ids]
    assert c.dtype == torch.float32 and c.tolist() == pytest.approx(expected)
    c2 = action_costs(ids, {"restart": 0.5, 4: 1.0})
    assert c2[1].item() == 0.5 and c2[-1].item() == 1.0 and c2[3].item() == pytest.approx(0.03)
    c3 = action_costs(ids, [0.0, 1.0, 2.0, 3.0, 4.0])
    assert c3.tolist() == [0.0, 1, 1, 2, 2, 3, 3, 4, 4]


@pytest.mark.parametrize(
    "costs", [{"reboot": 1.0}, {7: 1.0}, [0.0, 1.0], {"restart": -1.0}, [0, 0, 0, 0, float("nan")]]
)
def test_action_costs_refuses_bad_tables(costs):
    with pytest.raises(ConfigError):
        action_costs(flat_type_ids(2), costs)


def test_action_costs_refuses_bad_type_ids():
    with pytest.raises(ShapeError):
        action_costs(torch.tensor([0, 5]))
    with pytest.raises(ShapeError):
        action_costs(torch.zeros(2, 2, dtype=torch.long))


def test_cost_known_answer():
    goal = torch.zeros(4)
    obj = PlanObjective(goal=goal, action_cost=torch.tensor([0.0, 0.5, 1.0]), discount=0.5)
    latents = torch.tensor([[[2.0, 0, 0, 0], [0, 0, 0, 0]], [[1.0, 1, 1, 1], [2, 2, 2, 2]]])
    actions = torch.tensor([[1, 0], [2, 2]])
    # row 0: 1.0 * 4/4 + 0.5 * 0 + 0.5 + 0; row 1: 1.0 * 1 + 0.5 * 4 + 1 + 1
    assert obj.cost(latents, actions).tolist() == pytest.approx([1.5, 5.0])
    w = PlanObjective(goal=goal, action_cost=torch.zeros(3), step_weights=torch.tensor([0.0, 1.0]))
    assert w.cost(latents, actions).tolist() == pytest.approx([0.0, 4.0])
    assert torch.equal(w.weights(1), torch.tensor([0.0]))
    with pytest.raises(ShapeError):
        w.weights(3)


def test_rollout_and_evaluate_shapes():
    model = known_model()
    z0 = model.faulty_latent({1: 1.0})
    actions = torch.tensor([[model.fixing_action(1), 0], [0, 0], [0, model.fixing_action(1)]])
    lat = rollout(model, z0, actions)
    assert lat.shape == (3, 2, model.latent_dim)
    p = known_problem(model, {1: 1.0})
    cost, lat2 = evaluate(model, z0, actions, p.objective)
    assert cost.shape == (3,) and torch.equal(lat, lat2)
    assert cost[0] < cost[2] < cost[1]


def _check_cost_is_the_shared_objective(r, p):
    """The reported cost is the shared objective on the reported latents, bit for bit, and a
    fresh rollout of the sequence agrees to float rounding (a planner keeps the latents its
    batched search computed; a one-row rollout rounds the last bits differently)."""
    seq = torch.tensor([r.actions])
    assert r.cost == float(p.objective.cost(r.latents[None], seq)[0]), r.stats.planner
    ref, ref_lat = evaluate(p.dynamics, p.z0, seq, p.objective)
    assert r.cost == pytest.approx(float(ref[0]), rel=1e-5, abs=1e-7), r.stats.planner
    torch.testing.assert_close(r.latents, ref_lat[0], rtol=1e-5, atol=1e-5)


def test_cost_is_the_same_objective_across_planners_for_the_same_sequence():
    """All planners find the same optimum here; they report the same cost for it."""
    model = known_model()
    p = known_problem(model, {3: 1.0})
    results = [planner.plan(*p.args(), seed=0) for planner in all_planners(horizon=2)]
    assert len({r.actions for r in results}) == 1
    assert max(r.cost for r in results) - min(r.cost for r in results) <= 1e-6
    for r in results:
        _check_cost_is_the_shared_objective(r, p)


def test_reported_cost_is_the_shared_objective_on_mlp():
    p = mlp_problem()
    for planner in all_planners(horizon=3):
        r = planner.plan(*p.args(), seed=1)
        assert r.latents.shape == (3, 12)
        _check_cost_is_the_shared_objective(r, p)


@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_bad_shapes_raise_shape_error(planner):
    p = mlp_problem()
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0[None], p.objective, p.mask, seed=0)  # z0 [1, D]
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0, p.objective, p.mask[:-1], seed=0)  # mask [K - 1]
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0, p.objective, p.mask.long(), seed=0)  # mask not bool
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0.long(), p.objective, p.mask, seed=0)  # z0 not float
    wrong_goal = PlanObjective(goal=torch.zeros(5), action_cost=p.objective.action_cost)
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0, wrong_goal, p.mask, seed=0)
    wrong_costs = PlanObjective(goal=p.objective.goal, action_cost=torch.zeros(K + 1))
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0, wrong_costs, p.mask, seed=0)
    short = PlanObjective(
        goal=p.objective.goal, action_cost=p.objective.action_cost, step_weights=torch.ones(1)
    )
    with pytest.raises(ShapeError):
        planner.plan(p.dynamics, p.z0, short, p.mask, seed=0)


@pytest.mark.parametrize("planner", all_planners(), ids=lambda p: p.name)
def test_empty_mask_and_foreign_model_raise_planning_error(planner):
    p = mlp_problem()
    with pytest.raises(PlanningError):
        planner.plan(p.dynamics, p.z0, p.objective, torch.zeros(K, dtype=torch.bool), seed=0)
    with pytest.raises(PlanningError):
        planner.plan(object(), p.z0, p.objective, p.mask, seed=0)


def test_objective_refuses_bad_fields():
    with pytest.raises(ShapeError):
        PlanObjective(goal=torch.zeros(2, 3), action_cost=torch.zeros(K))
    with pytest.raises(ShapeError):
        PlanObjective(goal=torch.zeros(3), action_cost=torch.zeros(K, dtype=torch.long))
    with pytest.raises(ConfigError):
        PlanObjective(goal=torch.zeros(3), action_cost=torch.zeros(K), discount=0.0)


def test_mcts_with_a_greedy_completion_reports_the_latents_it_stepped():
    """Two simulations cannot reach depth 3: the plan is completed greedily, and the latents of
    the completion are the ones the greedy steps computed."""
    p = mlp_problem()
    r = MCTSPlanner(MCTSConfig(horizon=3, num_simulations=2, leaf_batch=1)).plan(*p.args(), seed=0)
    assert r.horizon == 3 and r.latents.shape == (3, 12)
    _check_cost_is_the_shared_objective(r, p)
