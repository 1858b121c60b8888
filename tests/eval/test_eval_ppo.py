"""The MaskablePPO peer: it learns a known remedy, acts through the mask and the guard, is seeded,
and its budget counts the simulator steps behind the world model's data."""

import dataclasses
import statistics

import numpy as np
import pytest
import torch

from aither_wm.bench.control_model import FULL_RECIPE, QUICK_RECIPE
from aither_wm.control.guard import GuardConfig
from aither_wm.errors import ConfigError
from aither_wm.eval.counterfactual import RunbookExplore, branch_episodes
from aither_wm.eval.data import training_scenarios
from aither_wm.eval.episodes import (
    NoopEpisodePolicy,
    Scenario,
    make_scenarios,
    play,
    run_scenario,
)
from aither_wm.eval.metrics import score_record
from aither_wm.eval.ppo import (
    PPOConfig,
    PPOEpisodePolicy,
    branch_rows,
    make_ppo_env,
    train_ppo,
    world_model_env_steps,
)
from aither_wm.graph.generate import generate_graph
from aither_wm.graph.state import Action
from aither_wm.sim.env import observation
from aither_wm.sim.faults import FAULT_NAMES
from aither_wm.sim.mesh import MeshSimulator

#: A cache outage on online-boutique: its one cache (redis-cart) is down until restarted.
CACHE = {
    "faults": ("cache_down",),
    "episode_steps": 16,
    "onset_range": (2, 5),
    "n_steps": 512,
    "batch_size": 64,
}
STEPS = 16


@pytest.fixture(scope="module")
def cache_model(boutique):
    model, info = train_ppo(boutique, {**CACHE, "total_steps": 4096, "seed": 0})
    return model, info


def test_ppo_learns_to_restart_the_downed_cache_and_beats_noop(boutique, cache_model):
    model, info = cache_model
    assert info["steps"] == 4096 and info["episodes"] > 0 and info["seconds"] > 0
    held_out = make_scenarios(seed=777, seeds=3, faults=["cache_down"], steps=STEPS, onset_step=3)
    ppo = [run_scenario(boutique, s, PPOEpisodePolicy(boutique, model)) for s in held_out]
    noop = [run_scenario(boutique, s, NoopEpisodePolicy()) for s in held_out]
    for r in ppo:  # the remedy is found in every held-out episode
        fixes = [a for a, e in zip(r.actions, r.effects, strict=True) if e == "fixes"]
        assert fixes == ["restart(redis-cart)"], r.actions
    minutes = {
        name: statistics.fmean(score_record(r)["slo_violation_minutes"] for r in recs)
        for name, recs in (("ppo", ppo), ("noop", noop))
    }
    assert minutes["ppo"] <= minutes["noop"] - 1.0, minutes


def test_the_policy_picks_only_actions_the_mask_allows(boutique, cache_model):
    policy = PPOEpisodePolicy(boutique, cache_model[0])
    sim = MeshSimulator(boutique, seed=3)
    scenario = Scenario("cache_down", seed=5, mesh_seed=3, steps=STEPS, onset_step=2)
    restart_cache = Action.model_validate({"type": "restart", "target": "redis-cart"})
    seen: list[tuple[Action, Action]] = []
    full_mask = sim.action_mask

    def step(state, space):
        free = policy.decide(sim, state)  # the full mask
        blocked = full_mask().copy()
        blocked[space.index(restart_cache)] = False
        sim.action_mask = lambda: blocked
        try:
            other = policy.decide(sim, state)
        finally:
            del sim.action_mask
        assert blocked[space.index(other)]
        seen.append((free, other))
        return free

    play(sim, scenario, step)
    assert any(free == restart_cache for free, _ in seen)
    assert all(other != restart_cache for _, other in seen)


def test_the_guard_stands_between_the_policy_and_the_mesh(boutique, cache_model):
    model = cache_model[0]
    held_out = make_scenarios(seed=777, seeds=2, faults=["cache_down"], steps=STEPS, onset_step=3)
    guard = GuardConfig(dry_run=False, protected_services=("redis-cart",))
    for s in held_out:
        r = run_scenario(boutique, s, PPOEpisodePolicy(boutique, model, guard=guard))
        assert not any("redis-cart" in a for a in r.actions), r.actions
        one = GuardConfig(dry_run=False, max_actions_per_window=1, window_steps=STEPS)
        r = run_scenario(boutique, s, PPOEpisodePolicy(boutique, model, guard=one))
        assert sum(a != "noop" for a in r.actions) <= 1, r.actions


def test_same_seed_same_policy(boutique):
    cfg = {**CACHE, "total_steps": 512, "n_steps": 256, "n_epochs": 2}
    (a, _), (b, _), (c, _) = (train_ppo(boutique, {**cfg, "seed": s}) for s in (3, 3, 4))
    pa, pb, pc = (m.policy.state_dict() for m in (a, b, c))
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def test_bad_config_and_mismatched_graph_are_one_line_errors(boutique, cache_model):
    with pytest.raises(ConfigError, match=r"batch_size 512 exceeds n_steps 256") as e:
        train_ppo(boutique, {"n_steps": 256, "batch_size": 512})
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"total_steps") as e:
        PPOConfig.parse({"total_steps": 0})
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match=r"unknown faults \['bogus'\]"):
        PPOConfig.parse({"faults": ["bogus"]})
    with pytest.raises(ConfigError, match=r"onset_range"):
        PPOConfig.parse({"episode_steps": 10, "onset_range": [4, 12]})
    with pytest.raises(
        ConfigError, match=r"ppo model observes \(11, 24\), graph .* has 10 services"
    ):
        PPOEpisodePolicy(generate_graph(10, seed=0), cache_model[0])


def test_budget_counts_every_simulator_step_of_the_branch_data(boutique, monkeypatch):
    recipe = dataclasses.replace(QUICK_RECIPE, train_episodes=0, branch_episodes=3)
    scenarios = training_scenarios(
        seed=1, episodes=recipe.branch_episodes, steps=recipe.episode_steps, faults=FAULT_NAMES
    )
    calls = 0
    step = MeshSimulator.step

    def counted(self, action):
        nonlocal calls
        calls += 1
        return step(self, action)

    monkeypatch.setattr(MeshSimulator, "step", counted)
    sets = branch_episodes(
        boutique,
        scenarios,
        behaviour=RunbookExplore(),
        every=recipe.branch_every,
        horizon=recipe.model.value_horizon,
        bases=recipe.bases,
    )
    budget = world_model_env_steps(recipe, candidates=branch_rows(sets))
    assert branch_rows(sets) > 0 and budget.labelled_steps == 0
    assert budget.total_steps == calls


def test_budget_of_the_full_recipe():
    b = world_model_env_steps(FULL_RECIPE, candidates=1000)
    assert (b.labelled_steps, b.branch_episode_steps) == (200 * 40, 600 * 40)
    assert b.counterfactual_steps == 1000 * FULL_RECIPE.model.value_horizon
    assert b.played_steps == 32_000 and b.total_steps == 32_000 + 8000
    both = dataclasses.replace(FULL_RECIPE, runbook_continuation=True)
    h = FULL_RECIPE.model.value_horizon
    assert world_model_env_steps(both, candidates=10).counterfactual_steps == 10 * (1 + 2 * (h - 1))
    with pytest.raises(ConfigError, match="candidates must be >= 0"):
        world_model_env_steps(FULL_RECIPE, candidates=-1)


def test_the_training_env_observes_and_masks_as_the_policy_does(boutique):
    env = make_ppo_env(boutique, PPOConfig(seed=2))
    obs, _ = env.reset(seed=2)
    sim = env.unwrapped.sim
    assert np.array_equal(obs, observation(boutique, sim.observe()))
    assert np.array_equal(env.action_masks(), sim.action_mask())
