"""The Gymnasium environment ``aither_wm/Mesh-v0``."""

import importlib

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import aither_wm.sim
from aither_wm.graph import FEATURE_DIM

BOUTIQUE = "graphs/online-boutique.json"


def _make(graphs_dir, **kw):
    return gym.make("aither_wm/Mesh-v0", graph=str(graphs_dir / "online-boutique.json"), **kw)


def test_check_env_passes(graphs_dir):
    env = _make(graphs_dir)
    check_env(env.unwrapped)


def test_registration_survives_a_reimport():
    importlib.reload(aither_wm.sim)
    assert "aither_wm/Mesh-v0" in gym.registry


def test_spaces_mask_and_reward(graphs_dir):
    env = _make(graphs_dir, max_steps=12)
    obs, info = env.reset(seed=3, options={"fault": "cache_down", "onset_step": 2})
    assert obs.shape == (11, FEATURE_DIM) and obs.dtype == np.float32
    mask = info["action_mask"]
    assert mask.dtype == bool and mask.shape == (env.action_space.n,) and mask[0]
    rewards, truncated = [], False
    while not truncated:
        obs, reward, terminated, truncated, info = env.step(0)
        rewards.append(reward)
        assert not terminated and env.observation_space.contains(obs)
    assert len(rewards) == 12 and info["faults"] == ("cache_down",)
    assert rewards[0] == 0.0 and min(rewards) == -1.0  # the cache outage violates the SLO


def test_a_masked_action_runs_as_a_penalised_noop(graphs_dir):
    env = _make(graphs_dir)
    _, info = env.reset(seed=0, options={"fault": None})
    invalid = int(np.flatnonzero(~info["action_mask"])[0])
    _, reward, _, _, info = env.step(invalid)
    assert info["invalid_action"] and reward == -0.5


def test_same_seed_same_episode(graphs_dir):
    def roll():
        env = _make(graphs_dir)
        obs, _ = env.reset(seed=9)
        out = [obs]
        for k in (0, 3, 0, 17, 0):
            out.append(env.step(k)[0])
        return np.stack(out)

    np.testing.assert_array_equal(roll(), roll())


def test_unavailability_penalty_makes_the_reward_minus_the_bench_cost(graphs_dir):
    plain, costed = (
        _make(graphs_dir, max_steps=10),
        _make(graphs_dir, max_steps=10, unavailability_penalty=1.0),
    )
    options = {"fault": "cache_down", "onset_step": 1}
    plain.reset(seed=4, options=options)
    costed.reset(seed=4, options=options)
    unavailable = []
    for k in (0, 0, 12, 0, 0):  # 12: a scale_out (costs 0.05)
        _, r0, _, _, info = plain.step(k)
        _, r1, _, _, _ = costed.step(k)
        cost = float(info["slo_violated"]) + (1.0 - info["availability"])
        cost += plain.unwrapped.sim.config.action_cost(
            plain.unwrapped.sim.action_space.action(k).type.value
        )
        assert r1 == pytest.approx(-cost) and r1 == pytest.approx(r0 - (1.0 - info["availability"]))
        unavailable.append(1.0 - info["availability"])
    assert max(unavailable) > 0.0


def test_mesh_every_draws_fresh_meshes_and_zero_keeps_one(graphs_dir):
    def capacities(env, episodes):
        out = []
        for e in range(episodes):
            env.reset(seed=1 if e == 0 else None)
            out.append(env.unwrapped.sim.topology.capacity_rps.copy())
        return out

    kept = capacities(_make(graphs_dir), 3)
    assert all(np.array_equal(kept[0], c) for c in kept)
    fresh = capacities(_make(graphs_dir, mesh_every=2), 4)
    assert np.array_equal(fresh[0], fresh[1]) and np.array_equal(fresh[2], fresh[3])
    assert not np.array_equal(fresh[1], fresh[2])
    again = capacities(_make(graphs_dir, mesh_every=2), 4)
    assert all(np.array_equal(a, b) for a, b in zip(fresh, again, strict=True))
