"""DAgger's behaviour: the control model's anchored greedy choice, as a branch-episode policy."""

import pickle

import numpy as np
import torch
from eval_helpers import TINY_CONTROL

from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.counterfactual import branch_episodes
from aither_wm.eval.dagger import ModelBehaviour
from aither_wm.eval.decisions import q_values
from aither_wm.eval.episodes import Scenario
from aither_wm.graph.state import Action
from aither_wm.models import ControlModel
from aither_wm.sim.faults import make_fault
from aither_wm.sim.mesh import MeshSimulator


def behaviour(min_improvement, p_explore=0.0):
    torch.manual_seed(0)
    model = ControlModel(TINY_CONTROL)
    for p in model.heads.parameters():  # an untrained head predicts nearly one value for all
        torch.nn.init.normal_(p, std=1.0)
    return ModelBehaviour(TINY_CONTROL, model.state_dict(), min_improvement, p_explore)


def faulted(graph):
    sim = MeshSimulator(graph, seed=3)
    sim.reset(seed=5)
    sim.inject(make_fault("cache_down", "redis-cart"))
    for _ in range(3):
        sim.step(Action.noop())
    return sim


def test_it_keeps_the_runbook_unless_the_model_predicts_enough_gain(boutique):
    sim = faulted(boutique)
    rng = np.random.default_rng(0)
    runbook = ReactivePolicy().decide(boutique, sim.observe())
    assert runbook.type.value != "noop"
    assert behaviour(float("inf")).act(sim, rng) == runbook

    greedy = behaviour(float("-inf"))
    valid = np.flatnonzero(sim.action_mask())
    cost = np.array(
        [sim.config.action_cost(sim.action_space.action(int(k)).type.value) for k in valid]
    )
    q = q_values(greedy.model(), boutique, sim.observe(), valid, cost)
    best = sim.action_space.action(int(valid[np.argmin(q)]))
    assert greedy.act(sim, rng) == best
    assert best != runbook  # the two settings are told apart by this state


def test_it_pickles_and_branches_the_same_in_worker_processes(boutique):
    beh = behaviour(0.25, p_explore=0.2)
    sim, again = faulted(boutique), pickle.loads(pickle.dumps(beh))
    assert again._model is None
    a = [beh.act(sim, np.random.default_rng(s)) for s in range(5)]
    assert a == [again.act(sim, np.random.default_rng(s)) for s in range(5)]
    sc = [Scenario("cache_down", seed=s, mesh_seed=1, steps=10, onset_step=2) for s in (1, 2)]
    one = branch_episodes(boutique, sc, behaviour=beh, every=3, horizon=3)
    two = branch_episodes(boutique, sc, behaviour=beh, every=3, horizon=3, workers=2)
    assert one and [s.q.tolist() for s in one] == [s.q.tolist() for s in two]
