"""Planner benchmark: latency per decision, cost reached and regret of CEM, MCTS and beam.

:func:`bench_planners` times each planner over at least ``decisions`` decisions on one torch
thread (problems are visited round-robin, each decision with its own seed, and every planner is
``reset()`` before each decision, so no warm start crosses unrelated problems), scores every plan
with the shared objective, and compares it with an oracle at the same horizon: exhaustive beam
search when it fits in ``oracle_max_rows`` rows, otherwise the best of a wide beam. It also times
the per-sample CEM loop against batched CEM on the same problems and seeds.

:func:`mlp_problems` builds problems on a random :class:`~aither_wm.planning.testing.MLPDynamics`
(latent 256, hidden 512) when no trained model is at hand.

Glossary: D latent size, K flat actions, N services.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from aither_wm.errors import ConfigError
from aither_wm.planning.beam import BeamPlanner
from aither_wm.planning.cem import CEMConfig, CEMPlanner, cem_plan_loop
from aither_wm.planning.mcts import MCTSConfig, MCTSPlanner
from aither_wm.planning.objective import PlanObjective, action_costs, flat_type_ids, rollout
from aither_wm.planning.result import Planner
from aither_wm.planning.testing import MLPDynamics
from aither_wm.types import LatentDynamics

__all__ = ["PlanProblem", "bench_planners", "mlp_problems"]


@dataclass(frozen=True, eq=False)
class PlanProblem:
    """One decision to plan: a model bound to a state, the current latent, objective and mask.

    Attributes:
        dynamics: the latent model bound to this decision.
        z0: current latent. [D]
        objective: the shared objective (goal latent, weights, action costs).
        mask: valid actions. [K] bool
        name: a label for reports.
    """

    dynamics: LatentDynamics
    z0: torch.Tensor
    objective: PlanObjective
    mask: torch.Tensor
    name: str = ""


def mlp_problems(
    num_problems: int,
    *,
    num_services: int = 26,
    latent_dim: int = 256,
    hidden_dim: int = 512,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> list[PlanProblem]:
    """Problems on one random MLP model with K = 1 + 4 N actions.

    Each problem draws ``z0 ~ N(0, I)``, a goal two valid actions away from it (the latent a hidden
    two-step fix reaches, plus noise), and a mask where noop and restart are valid, scale_out with
    probability 0.9, scale_in 0.6 and rollback 0.3 per service.
    """
    if num_problems < 1:
        raise ConfigError(f"num_problems must be >= 1, got {num_problems}")
    N = num_services
    K = 1 + 4 * N
    dyn = MLPDynamics(
        num_actions=K, latent_dim=latent_dim, hidden_dim=hidden_dim, seed=seed, dtype=dtype
    )
    costs = action_costs(flat_type_ids(N))  # [K]
    g = torch.Generator().manual_seed(seed + 1)
    p_valid = torch.tensor([1.0, 0.9, 0.6, 0.3]).repeat_interleave(N)  # [4 * N]
    problems = []
    for i in range(num_problems):
        mask = torch.cat(
            [torch.ones(1, dtype=torch.bool), torch.rand(4 * N, generator=g) < p_valid]
        )
        valid = mask.nonzero().flatten()  # [Kv]
        z0 = torch.randn(latent_dim, generator=g)  # [D]
        fix = valid[torch.randint(len(valid), (1, 2), generator=g)]  # [1, 2]
        with torch.inference_mode():
            reached = rollout(dyn, z0, fix)[0, -1].float()  # [D]
        goal = reached + 0.3 * torch.randn(latent_dim, generator=g)  # [D]
        objective = PlanObjective(goal=goal, action_cost=costs)
        problems.append(PlanProblem(dyn, z0, objective, mask, name=f"mlp{i}"))
    return problems


def _oracle_cost(problem: PlanProblem, horizon: int, max_rows: int) -> tuple[float, bool]:
    """Best cost at ``horizon``: exhaustive when it fits in ``max_rows``, else a wide beam."""
    kv = int(problem.mask.sum())
    exhaustive = BeamPlanner(horizon=horizon, beam_width=None, max_rows=max_rows)
    if exhaustive.rows_needed(kv) <= max_rows:
        planner, is_exhaustive = exhaustive, True
    else:
        width = max(1, max_rows // max(1, kv * max(1, horizon - 1)))
        planner, is_exhaustive = BeamPlanner(horizon=horizon, beam_width=width), False
    res = planner.plan(problem.dynamics, problem.z0, problem.objective, problem.mask, seed=0)
    return res.cost, is_exhaustive


class _StepTimer:
    """A LatentDynamics proxy that adds up the wall time spent in ``step`` (model time)."""

    def __init__(self, inner: LatentDynamics) -> None:
        self.inner = inner
        self.num_actions = inner.num_actions
        self.latent_dim = inner.latent_dim
        self.seconds = 0.0

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        t0 = time.perf_counter()
        out = self.inner.step(z, actions)
        self.seconds += time.perf_counter() - t0
        return out


def _time_planner(
    planner: Planner, problems: Sequence[PlanProblem], decisions: int, seed: int, warmup: int
) -> dict[str, list[float]]:
    """Latency, model time (ms), cost and rows of ``decisions`` decisions, after ``warmup``."""
    out: dict[str, list[float]] = {"latency": [], "model": [], "cost": [], "rows": []}
    for i in range(-warmup, decisions):
        p = problems[i % len(problems)]
        timed = _StepTimer(p.dynamics)
        planner.reset()
        t0 = time.perf_counter()
        res = planner.plan(timed, p.z0, p.objective, p.mask, seed=seed + i)
        dt = (time.perf_counter() - t0) * 1e3
        if i >= 0:
            out["latency"].append(dt)
            out["model"].append(timed.seconds * 1e3)
            out["cost"].append(res.cost)
            out["rows"].append(res.stats.rows_evaluated)
    return out


def _percentile(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def bench_planners(
    problems: Sequence[PlanProblem],
    *,
    decisions: int = 100,
    cem: CEMConfig | None = None,
    mcts: MCTSConfig | None = None,
    beam_horizon: int | None = None,
    beam_width: int | None = 16,
    oracle_max_rows: int = 2_000_000,
    loop_decisions: int = 3,
    warmup: int = 3,
    num_threads: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Benchmark CEM, MCTS and beam on ``problems``; return a JSON-able dict.

    Args:
        problems: decisions to plan, visited round-robin.
        decisions: timed decisions per planner (>= 100 for the reported percentiles).
        cem, mcts: planner settings (defaults: H 3, 300 samples, 3 iterations; 200 simulations).
        beam_horizon: horizon of the beam comparator (default: the CEM horizon).
        beam_width: beam width of the comparator (None = exhaustive).
        oracle_max_rows: the oracle is exhaustive when it needs at most this many rows per problem.
        loop_decisions: decisions timed for the per-sample CEM loop (it is slow).
        warmup: untimed decisions per planner first.
        num_threads: torch threads while timing (restored afterwards).
        seed: decision i uses seed ``seed + i``.

    Returns:
        ``{"planners": {"cem" | "mcts" | "beam": {"p50_ms", "p95_ms", "model_ms", "regret",
        "max_regret", "mean_cost", "horizon", "rows_per_decision"}}, "batched_speedup", "loop_ms",
        "batched_ms", "decisions", "num_problems", "num_actions", "oracle": {"exhaustive"},
        "num_threads", "precision"}`` (precision: the dynamics' planning precision, if it has one). Regret is the mean, over decisions, of the plan's cost minus the oracle's
        at the planner's horizon (both under the shared objective); ``model_ms`` is the mean time
        per decision spent inside ``dynamics.step`` (the rest of the latency is the planner's).
    """
    if not problems:
        raise ConfigError("bench_planners needs at least one problem")
    cem_cfg, mcts_cfg = cem or CEMConfig(), mcts or MCTSConfig()
    planners: dict[str, Planner] = {
        "cem": CEMPlanner(cem_cfg),
        "mcts": MCTSPlanner(mcts_cfg),
        "beam": BeamPlanner(horizon=beam_horizon or cem_cfg.horizon, beam_width=beam_width),
    }
    horizons = {
        "cem": cem_cfg.horizon,
        "mcts": mcts_cfg.horizon,
        "beam": beam_horizon or cem_cfg.horizon,
    }
    oracle: dict[int, list[float]] = {}
    all_exhaustive = True
    for h in sorted(set(horizons.values())):
        oracle[h] = []
        for p in problems:
            c, ex = _oracle_cost(p, h, oracle_max_rows)
            oracle[h].append(c)
            all_exhaustive = all_exhaustive and ex

    old_threads = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        out: dict[str, Any] = {}
        for name, planner in planners.items():
            runs = _time_planner(planner, problems, decisions, seed, warmup)
            ref = [oracle[horizons[name]][i % len(problems)] for i in range(decisions)]
            regrets = [c - r for c, r in zip(runs["cost"], ref, strict=True)]
            out[name] = {
                "p50_ms": _percentile(runs["latency"], 0.5),
                "p95_ms": _percentile(runs["latency"], 0.95),
                "model_ms": statistics.fmean(runs["model"]),
                "regret": statistics.fmean(regrets),
                "max_regret": max(regrets),
                "mean_cost": statistics.fmean(runs["cost"]),
                "horizon": horizons[name],
                "rows_per_decision": statistics.fmean(runs["rows"]),
            }
        loop_ms, batched_ms = [], []
        batched = CEMPlanner(cem_cfg)
        for i in range(loop_decisions):
            p = problems[i % len(problems)]
            t0 = time.perf_counter()
            cem_plan_loop(p.dynamics, p.z0, p.objective, p.mask, seed=seed + i, config=cem_cfg)
            loop_ms.append((time.perf_counter() - t0) * 1e3)
            batched.reset()
            t0 = time.perf_counter()
            batched.plan(p.dynamics, p.z0, p.objective, p.mask, seed=seed + i)
            batched_ms.append((time.perf_counter() - t0) * 1e3)
    finally:
        torch.set_num_threads(old_threads)
    return {
        "planners": out,
        "batched_speedup": statistics.fmean(loop_ms) / statistics.fmean(batched_ms),
        "loop_ms": statistics.fmean(loop_ms),
        "batched_ms": statistics.fmean(batched_ms),
        "decisions": decisions,
        "num_problems": len(problems),
        "num_actions": int(problems[0].mask.shape[0]),
        "oracle": {"exhaustive": all_exhaustive},
        "num_threads": num_threads,
        "precision": getattr(problems[0].dynamics, "precision", None),
    }
