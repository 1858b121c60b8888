"""Actors over the plain classes: same plans as in-process, health during plans, versioned
weights from the trainer to the planners, a trainer that resumes after a crash."""

import time
from contextlib import contextmanager
from functools import partial

import pytest
import ray
import torch
from runtime_helpers import (
    CEM_SMALL,
    MCTS_SMALL,
    RT,
    TINY,
    TINY_TRAIN,
    boutique,
    broken_state,
    make_state,
)

from aither_wm.control import PlannerService, PlanRequest, graph_to_dict
from aither_wm.control.testing import SlowPlanner
from aither_wm.runtime import (
    TrainerSettings,
    actor_name,
    gather,
    start_encoder,
    start_planner,
    start_trainer,
)
from aither_wm.train import load_checkpoint
from aither_wm.train.toy import toy_transitions
from aither_wm.wait import wait_until

pytestmark = pytest.mark.usefixtures("ray_session")
CONFIGS = {"cem": CEM_SMALL, "mcts": MCTS_SMALL}


@contextmanager
def one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a planner actor: same float reductions, same bits
    try:
        yield
    finally:
        torch.set_num_threads(n)


def kill(*handles):
    for h in handles:
        ray.kill(h, no_restart=True)


def requests(g, n):
    return [
        PlanRequest(
            state=broken_state(g, step) if step % 2 else make_state(g, step),
            seed=step,
            reset=step == 0,
        )
        for step in range(n)
    ]


def test_local_and_remote_planners_give_the_same_plan():
    g = boutique()
    graphs = [graph_to_dict(g)]
    remote = {
        k: start_planner(
            RT,
            k,
            name=f"same-{k}",
            model_config=TINY.model_dump(),
            graphs=graphs,
            planner_config=CONFIGS[k],
            poll_interval_s=None,
        )
        for k in CONFIGS
    }
    reqs = requests(g, 4)
    refs = {f"{k}/{i}": remote[k].plan.remote(r) for k in CONFIGS for i, r in enumerate(reqs)}
    got = gather(refs, timeout_s=120)
    with one_torch_thread():
        for k in CONFIGS:
            local = PlannerService(k, model_config=TINY, graphs=graphs, planner_config=CONFIGS[k])
            for i, r in enumerate(reqs):
                status, rr = got[f"{k}/{i}"]
                assert status == "ok", rr
                lr = local.plan(r)
                assert (rr.actions, rr.cost, rr.noop_cost) == (lr.actions, lr.cost, lr.noop_cost), (
                    k,
                    i,
                )
    kill(*remote.values())


def test_health_answers_while_a_plan_runs():
    g = boutique()
    actor = start_planner(
        RT,
        partial(SlowPlanner, 1.5, **CEM_SMALL),
        name="busy",
        model_config=TINY.model_dump(),
        graphs=[graph_to_dict(g)],
        poll_interval_s=None,
    )
    ray.get(actor.health.remote(), timeout=60)  # started
    plan_ref = actor.plan.remote(PlanRequest(state=broken_state(g), seed=0))
    time.sleep(0.3)
    t0 = time.perf_counter()
    health = ray.get(actor.health.remote(), timeout=1.0)
    assert (
        time.perf_counter() - t0 < 0.3
        and health["busy_s"] is not None
        and health["torch_threads"] == 1
    )
    assert not ray.wait([plan_ref], timeout=0)[0]  # the plan is still running
    assert ray.get(plan_ref, timeout=10).planner == "busy"
    kill(actor)


def test_trainer_weights_reach_planners_with_their_version(tmp_path):
    g = boutique()
    graphs = [graph_to_dict(g)]
    settings = TrainerSettings(
        model=TINY,
        train=TINY_TRAIN,
        checkpoint_path=str(tmp_path / "wm.pt"),
        transitions_log=str(tmp_path / "trainer.jsonl"),
        use_gate=False,  # this test is about how versions travel; the gate has its own test
    )
    trainer = start_trainer(RT, settings, graphs)
    assert ray.get(trainer.ingest.remote(toy_transitions(g, steps=150, seed=0)), timeout=60) == 150
    planner = start_planner(
        RT,
        "cem",
        name="pull",
        trainer=actor_name("trainer"),
        model_config=TINY.model_dump(),
        graphs=graphs,
        planner_config=CEM_SMALL,
        poll_interval_s=0.2,
    )
    encoder = start_encoder(RT, TINY.model_dump(), graphs, trainer=actor_name("trainer"))
    assert ray.get(planner.sync_weights.remote(), timeout=60) == 0  # nothing trained yet
    summary = ray.get(trainer.train.remote(), timeout=120)
    assert summary["version"] == 1 and summary["steps"] == TINY_TRAIN.steps
    assert ray.get(planner.sync_weights.remote(), timeout=30) == 1
    request = PlanRequest(state=broken_state(g), seed=5, reset=True)
    reply = ray.get(planner.plan.remote(request), timeout=30)
    assert reply.weights_version == 1
    ck = load_checkpoint(tmp_path / "wm.pt")  # the same weights, from the atomic checkpoint
    assert ck.version == 1
    with one_torch_thread():
        local = PlannerService("cem", model_config=TINY, graphs=graphs, planner_config=CEM_SMALL)
        local.load_weights(ck.version, ck.model.state_dict())
        assert local.plan(request).actions == reply.actions
    # Version 2 is hot-swapped by the background poller: no call from us.
    assert ray.get(trainer.train.remote(10), timeout=120)["version"] == 2

    def on_version_2():
        reply = ray.get(
            planner.plan.remote(PlanRequest(state=make_state(g, 1), seed=1)), timeout=30
        )
        return reply if reply.weights_version == 2 else None

    reply = wait_until(on_version_2, timeout_s=10, interval_s=0.2)
    assert reply is not None
    assert reply.weights_version == 2
    assert ray.get(encoder.sync_weights.remote(), timeout=30) == 2
    enc = ray.get(encoder.encode.remote([make_state(g), broken_state(g)]), timeout=30)
    assert tuple(enc["z"].shape) == (2, TINY.projector.latent_dim) and enc["weights_version"] == 2
    # A trainer crash: the restarted actor resumes from its checkpoint and transitions log.
    old_pid = ray.get(trainer.health.remote(), timeout=10)["pid"]
    ray.kill(trainer, no_restart=False)

    def restarted():
        health = ray.get(trainer.health.remote(), timeout=10)
        return health if health["pid"] != old_pid else None

    health = wait_until(
        restarted,
        timeout_s=60,
        interval_s=0.3,
        ignore=(ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError),
    )
    assert health is not None, "trainer did not restart"
    assert health["version"] == 2 and health["resumed_from"] == str(tmp_path / "wm.pt")
    assert health["transitions"] == health["reloaded_transitions"] == 150
    assert ray.get(trainer.latest.remote(), timeout=10)[0] == 2
    kill(trainer, planner, encoder)
