"""Counterfactual branches on simulator clones, and the decision exam scored on them."""

import dataclasses

import numpy as np
import pytest

from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.counterfactual import branch_candidates, branch_episodes, branch_state
from aither_wm.eval.decisions import calibrate_min_improvement, deviation_gains, exam, spearman
from aither_wm.eval.episodes import Scenario
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.faults import make_fault
from aither_wm.sim.mesh import MeshSimulator


def faulted_sim(graph, name="cache_down", target="redis-cart", steps=2):
    sim = MeshSimulator(graph, seed=3)
    sim.reset(seed=5)
    sim.inject(make_fault(name, target))
    for _ in range(steps):
        sim.step(Action.noop())
    return sim


def test_restarting_the_dead_cache_beats_waiting_and_restarting_its_caller(boutique):
    sim = faulted_sim(boutique)
    space = ActionSpace(boutique)
    fix = space.index(Action(type=ActionType.restart, target="redis-cart"))
    caller = space.index(Action(type=ActionType.restart, target="cartservice"))
    before = sim.observe()
    b = branch_state(sim, [0, fix, caller], horizon=8)
    assert sim.observe() == before  # the simulator itself is untouched
    assert b.fault == "cache_down" and b.acts_on == ("redis-cart",)
    assert b.q[1] < b.q[0] and b.q[1] < b.q[2]
    assert b.effects[1] == "fixes" and b.best == 1
    np.testing.assert_allclose(b.value, b.q - b.action_cost)
    # same clone noise: branching twice gives the same answer
    np.testing.assert_array_equal(branch_state(sim, [0, fix, caller], horizon=8).q, b.q)


def test_candidates_cover_the_culprit_symptomatic_and_healthy_services(boutique):
    sim = faulted_sim(boutique, steps=3)
    cands = branch_candidates(sim, np.random.default_rng(0), symptomatic=2, healthy=2)
    space = ActionSpace(boutique)
    targets = {space.action(k).target for k in cands}
    assert cands[0] == 0 and len(set(cands)) == len(cands)
    assert "redis-cart" in targets
    assert len(targets - {"redis-cart", None}) >= 2  # callers or healthy services too
    every = branch_candidates(sim, np.random.default_rng(0), every_action=True)
    assert len(every) == int(sim.action_mask().sum())


def test_branch_episodes_start_at_the_onset_and_are_deterministic(boutique):
    sc = [Scenario("bad_deploy", seed=2, mesh_seed=1, steps=12, onset_step=3),
          Scenario(None, seed=3, mesh_seed=1, steps=12, onset_step=3)]  # fmt: skip
    a = branch_episodes(boutique, sc, every=3, horizon=4)
    b = branch_episodes(boutique, sc, every=3, horizon=4)
    faulted = [s for s in a if s.fault is not None]
    assert faulted and all(s.step >= 3 for s in faulted)
    assert [s.q.tolist() for s in a] == [s.q.tolist() for s in b]


def test_healthy_stretches_of_faulted_episodes_are_branched_when_asked(boutique):
    sc = [Scenario("pod_kill", seed=2, mesh_seed=1, steps=16, onset_step=5)]
    off = branch_episodes(boutique, sc, every=2, horizon=4)
    on = branch_episodes(boutique, sc, every=2, horizon=4, healthy_every=2)
    assert all(s.fault is not None for s in off)
    healthy = [s for s in on if s.fault is None]
    assert {1, 3} <= {s.step for s in healthy}  # before the onset at step 5
    # the faulted states are the same ones either way
    assert [s.step for s in on if s.fault] == [s.step for s in off]
    # a healthy mesh: no candidate truly beats waiting
    assert all(s.best == 0 or s.q[s.best] >= s.q[0] - 1e-9 for s in healthy[:2])


def test_exam_scores_a_perfect_and_a_reversed_ranker(boutique):
    sim = faulted_sim(boutique)
    b = branch_state(sim, branch_candidates(sim, np.random.default_rng(1)), horizon=6)
    good = exam(boutique, [b], scores=[b.q])
    bad = exam(boutique, [b], scores=[-b.q])
    assert good["overall"]["hit_rate"] == 1.0 and good["overall"]["regret"] == 0.0
    assert good["overall"]["spearman"] == pytest.approx(1.0)
    assert bad["overall"]["regret"] > 0 and bad["overall"]["spearman"] < 0
    assert exam(boutique, [b], picks=[0])["overall"]["regret"] == pytest.approx(
        b.q[0] - b.q.min(), abs=1e-4
    )


def test_spearman_known_values():
    assert spearman(np.array([1, 2, 3]), np.array([10, 20, 30])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.array([1, 1, 1]), np.array([1, 2, 3])))


def test_waiting_costs_more_when_nothing_follows_than_when_the_runbook_does(boutique):
    sim = faulted_sim(boutique)
    fix = ActionSpace(boutique).index(Action(type=ActionType.restart, target="redis-cart"))
    best_of = branch_state(sim, [0, fix], horizon=8)
    wait_only = branch_state(sim, [0, fix], horizon=8, bases=(None,))
    assert np.all(wait_only.q >= best_of.q - 1e-9)  # the min over more continuations is lower
    # nothing fixes the dead cache after a no-op: waiting costs several more steps
    assert wait_only.q[0] - wait_only.q[1] > best_of.q[0] - best_of.q[1] + 2.0


def test_the_deviation_threshold_follows_whether_deviations_are_right(boutique):
    sim = faulted_sim(boutique)
    b = branch_state(sim, branch_candidates(sim, np.random.default_rng(1)), horizon=6)
    runbook = ReactivePolicy().decide(boutique, b.state)
    rb = int(np.flatnonzero(b.actions == ActionSpace(boutique).index(runbook))[0])
    other = 1 if rb != 1 else 2
    q = b.q.copy()
    q[other] = q[rb] - 2.0  # a candidate truly 2 steps better than the runbook's
    b = dataclasses.replace(b, q=q)
    tau, table = calibrate_min_improvement(*deviation_gains(boutique, [b], [q]), min_support=1)
    assert tau == 0.0 and table[0] == {
        "tau": 0.0,
        "kept": 1,
        "precision": 1.0,
        "mean_true_gain": 2.0,
    }
    assert table[-2]["kept"] == 0  # predicted gain 2: not kept at tau 3
    wrong = np.zeros_like(q)
    wrong[rb], wrong[int(np.argmax(q))] = 10.0, -10.0  # deviates to the worst candidate
    tau, table = calibrate_min_improvement(*deviation_gains(boutique, [b], [wrong]), min_support=1)
    assert tau == 4.0 and table[0]["precision"] == 0.0 and table[-1]["kept"] == 1
    # where the runbook acts, a deviation is not one "where the rules wait"
    assert deviation_gains(boutique, [b], [wrong], runbook_waits=True)[0].size == (rb == 0)
    assert deviation_gains(boutique, [b], [wrong], runbook_waits=False)[0].size == (rb != 0)
