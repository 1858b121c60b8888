"""MCTS: batched root and leaves, array tree, known answers beyond the first step."""

from __future__ import annotations

import pydantic
import pytest
import torch
from plan_helpers import CountingDynamics, K, known_model, known_problem, mlp_problem

from aither_wm.planning import BeamPlanner, MCTSConfig, MCTSPlanner


def test_root_is_one_call_and_leaves_come_in_batches():
    p = mlp_problem()
    spy = CountingDynamics(p.dynamics)
    cfg = MCTSConfig(num_simulations=64, leaf_batch=8)
    r = MCTSPlanner(cfg).plan(spy, p.z0, p.objective, p.mask, seed=0)
    assert spy.calls[0] == K
    search_calls = spy.calls[1:]  # the plan's latents come from the tree: no final rollout
    assert all(c <= 8 for c in search_calls[:8])
    assert r.stats.iterations == 64
    assert r.stats.rows_evaluated == sum(spy.calls)
    assert r.stats.rows_evaluated <= K + 64 + 2 * K  # new leaves, plus a greedy completion


@pytest.mark.parametrize("backup", ["max", "mean"])
def test_two_faults_with_both_backups(backup):
    model = known_model()
    p = known_problem(model, {0: 1.5, 3: 1.0})
    r = MCTSPlanner(MCTSConfig(backup=backup)).plan(*p.args(), seed=0)
    assert r.actions[:2] == (model.fixing_action(0), model.fixing_action(3))


def test_mcts_is_close_to_the_oracle_on_mlp():
    p = mlp_problem()
    oracle = BeamPlanner(horizon=3).plan(*p.args(), seed=0)
    costs = [MCTSPlanner().plan(*p.args(), seed=s).cost for s in range(3)]
    assert min(costs) >= oracle.cost - 1e-6
    assert sum(costs) / 3 <= oracle.cost + 0.1


def test_small_action_set_smaller_than_top_m_and_tiny_budget():
    model = known_model()
    mask = torch.zeros(K, dtype=torch.bool)
    mask[[0, model.fixing_action(2), 3]] = True
    p = known_problem(model, {2: 1.0}, mask=mask)
    for sims in (1, 3, 200):
        r = MCTSPlanner(MCTSConfig(num_simulations=sims)).plan(*p.args(), seed=0)
        assert r.first_action == model.fixing_action(2) and len(r.actions) == 3


def test_config_defaults_and_validation():
    cfg = MCTSConfig()
    assert (cfg.num_simulations, cfg.horizon, cfg.top_m, cfg.c_puct) == (200, 3, 16, 1.25)
    assert (cfg.leaf_batch, cfg.virtual_loss) == (16, 1.0)
    for bad in ({"top_m": 0}, {"c_puct": 0.0}, {"backup": "min"}, {"extra": 1}):
        with pytest.raises(pydantic.ValidationError):
            MCTSConfig(**bad)


def test_edge_arrays_grow_with_simulations_not_with_the_action_space():
    """On a 1,000-service mesh (K = 4,001) only the root and the expanded nodes get edge rows."""
    from aither_wm.bench.planners import mlp_problems
    from aither_wm.planning.mcts import _Search

    p = mlp_problems(1, num_services=1000, latent_dim=16, hidden_dim=32)[0]
    cfg = MCTSConfig(num_simulations=64)
    valid = p.mask.nonzero().flatten()
    search = _Search(p.dynamics, p.z0, p.objective, valid, cfg, seed=0)
    search.run(None)
    t = search.tree
    assert valid.numel() > 2000
    assert t.children.shape == (1 + cfg.num_simulations, valid.numel())
    assert 1 < t.rows <= 1 + cfg.num_simulations
    res = MCTSPlanner(cfg).plan(p.dynamics, p.z0, p.objective, p.mask, seed=0)
    assert all(bool(p.mask[a]) for a in res.actions)
