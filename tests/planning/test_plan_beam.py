"""Beam search: exhaustive equals brute force; pruning, chunking and row limits."""

from __future__ import annotations

import itertools

import pytest
import torch
from plan_helpers import K, mlp_problem

from aither_wm.errors import ConfigError, PlanningError
from aither_wm.planning import BeamPlanner, evaluate


@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_exhaustive_equals_brute_force(horizon):
    p = mlp_problem()
    mask = torch.zeros(K, dtype=torch.bool)
    mask[[0, 2, 5, 11, 17, 20]] = True
    valid = mask.nonzero().flatten().tolist()
    seqs = torch.tensor(list(itertools.product(valid, repeat=horizon)))  # lexicographic
    costs, _ = evaluate(p.dynamics, p.z0, seqs, p.objective)
    best = int(costs.argmin())
    r = BeamPlanner(horizon=horizon, chunk_rows=7).plan(p.dynamics, p.z0, p.objective, mask)
    assert r.actions == tuple(seqs[best].tolist())
    assert r.cost == pytest.approx(float(costs[best]), abs=1e-6)
    assert r.stats.rows_evaluated == sum(len(valid) ** d for d in range(1, horizon + 1))


def test_beam_width_prunes_and_stays_close():
    p = mlp_problem()
    exact = BeamPlanner(horizon=3).plan(*p.args())
    pruned = BeamPlanner(horizon=3, beam_width=4).plan(*p.args())
    assert pruned.stats.rows_evaluated == K + 4 * K + 4 * K
    assert pruned.cost >= exact.cost - 1e-6
    assert BeamPlanner(horizon=3, beam_width=4).rows_needed(K) == pruned.stats.rows_evaluated


def test_row_limit_and_bad_settings():
    p = mlp_problem()
    with pytest.raises(PlanningError):
        BeamPlanner(horizon=3, max_rows=100).plan(*p.args())
    for kwargs in ({"horizon": 0}, {"beam_width": 0}, {"chunk_rows": 0}):
        with pytest.raises(ConfigError):
            BeamPlanner(**kwargs)


def test_seed_is_ignored():
    p = mlp_problem()
    a, b = BeamPlanner().plan(*p.args(), seed=1), BeamPlanner().plan(*p.args(), seed=2)
    assert a.actions == b.actions and a.cost == b.cost
