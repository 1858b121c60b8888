"""Smoke test of the planner benchmark on a tiny budget."""

from __future__ import annotations

import json

import torch

from aither_wm.bench.planners import PlanProblem, bench_planners, mlp_problems
from aither_wm.planning import CEMConfig, MCTSConfig


def test_mlp_problems_are_valid():
    problems = mlp_problems(3, num_services=3, latent_dim=8, hidden_dim=16, seed=2)
    assert len(problems) == 3 and all(isinstance(p, PlanProblem) for p in problems)
    for p in problems:
        assert p.mask.shape == (13,) and p.mask[0] and p.mask[1:4].all()
        assert p.z0.shape == (8,) and p.objective.goal.shape == (8,)


def test_bench_planners_json_shape_and_threads_restored():
    problems = mlp_problems(2, num_services=3, latent_dim=8, hidden_dim=16)
    before = torch.get_num_threads()
    out = bench_planners(
        problems,
        decisions=4,
        cem=CEMConfig(num_samples=40, num_elites=5),
        mcts=MCTSConfig(num_simulations=20),
        beam_width=4,
        loop_decisions=1,
        warmup=1,
    )
    assert torch.get_num_threads() == before
    json.dumps(out)
    assert set(out["planners"]) == {"cem", "mcts", "beam"}
    for stats in out["planners"].values():
        assert {"p50_ms", "p95_ms", "regret", "mean_cost"} <= set(stats)
        assert stats["p95_ms"] >= stats["p50_ms"] > 0
        assert stats["regret"] >= -1e-6  # the oracle is exhaustive here
    assert out["oracle"]["exhaustive"] and out["batched_speedup"] > 1.0
