"""(Ray) Actor and node faults: the trainer SIGKILLed mid-training, planners killed and hung,
a worker node lost. Each returns the row of the fault table: recovered or not, recovery time,
transitions lost (the transitions sent that the trainer's log lacks afterwards)."""

from __future__ import annotations

import itertools
import os
import signal
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import ray
import torch

from aither_wm.bench.reliability.common import (
    CEM_SMALL,
    HEALTH_CHECK_FAST,
    MCTS_SMALL,
    SLACK_MS,
    TINY,
    bench_graph,
    mesh_state,
)
from aither_wm.config import TrainConfig
from aither_wm.control import AutohealController, ControllerConfig, RecordingExecutor, graph_to_dict
from aither_wm.control.testing import HangingPlanner
from aither_wm.data.log import read_transitions
from aither_wm.graph import ServiceGraph
from aither_wm.graph.state import Transition
from aither_wm.models.world_model import WorldModel
from aither_wm.runtime.actors import ActorDispatcher, TrainerFeed, start_planner, start_trainer
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.services import TrainerSettings
from aither_wm.train.checkpoint import load_checkpoint, save_checkpoint
from aither_wm.train.toy import toy_transitions

__all__ = [
    "planner_faults",
    "start_small_planner",
    "trainer_killed_mid_training",
    "worker_node_lost",
]


def _actor_pid(handle: Any, timeout_s: float = 60.0) -> int:
    return int(ray.get(handle.health.remote(), timeout=timeout_s)["pid"])


def _wait_restarted(handle: Any, old_pid: int, timeout_s: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            health = ray.get(handle.health.remote(), timeout=2)
            if health["pid"] != old_pid:
                return dict(health)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"actor did not restart within {timeout_s} s")
        time.sleep(0.1)


def _drain(feed: TrainerFeed, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while feed.pending():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{feed.pending()} transitions never reached the trainer")
        feed.send([])
        time.sleep(0.05)


def _trainer_settings(workdir: Path) -> TrainerSettings:
    """Trainer settings with a version-1 checkpoint already on disk (what a restart resumes)."""
    ck = workdir / "trainer.pt"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        save_checkpoint(WorldModel(TINY), ck, version=1)
    log = workdir / "trainer.jsonl"
    log.unlink(missing_ok=True)
    train = TrainConfig(steps=20, batch_size=16, num_slices=32, warmup_steps=2, lr=2e-3)
    return TrainerSettings(
        model=TINY,
        train=train,
        checkpoint_path=str(ck),
        transitions_log=str(log),
        min_transitions=8,
    )


def _lost_and_duplicated(payloads: list[dict[str, Any]], log: str | None) -> tuple[int, int]:
    """Transitions sent (as payloads) missing from the trainer's log, and duplicates in it."""
    want = {Transition.model_validate(p).model_dump_json() for p in payloads}
    logged = [t.model_dump_json() for t in read_transitions(log or "").transitions]
    return len(want - set(logged)), len(logged) - len(set(logged))


def trainer_killed_mid_training(
    workdir: str | Path, rt: RuntimeConfig, *, batches: int = 12, batch: int = 8
) -> dict[str, Any]:
    """(Ray) The trainer actor is SIGKILLed in the middle of a training run while transitions
    keep streaming to it through a :class:`TrainerFeed` (as the controller actor sends them).

    Checks: Ray restarts it; it resumes from its last checkpoint (version 1; the interrupted run
    published nothing and the file on disk still loads as version 1); the interrupted ``train``
    call fails instead of being retried; every transition sent (before, during and after the
    outage) is in the trainer's transitions log afterwards.
    """
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    settings = _trainer_settings(wd)
    g = bench_graph()
    trainer = start_trainer(rt, settings, [graph_to_dict(g)])
    payloads = [t.model_dump(mode="json") for t in toy_transitions(g, steps=batches * batch)]
    chunks = [payloads[i : i + batch] for i in range(0, len(payloads), batch)]
    feed = TrainerFeed(trainer)
    try:
        third = len(chunks) // 3
        for c in chunks[:third]:
            feed.send(c)
        _drain(feed)
        train_ref = trainer.train.remote(1_000_000)
        deadline = time.monotonic() + 120
        while ray.get(trainer.progress.remote(), timeout=30).get("step", 0) < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("training did not start")
            time.sleep(0.05)
        old_pid = _actor_pid(trainer)
        os.kill(old_pid, signal.SIGKILL)
        t_kill = time.perf_counter()
        for c in chunks[third : 2 * third]:  # sent while the trainer is dead or restarting
            feed.send(c)
            time.sleep(0.05)
        health = _wait_restarted(trainer, old_pid)
        recovery_s = time.perf_counter() - t_kill
        for c in chunks[2 * third :]:
            feed.send(c)
        _drain(feed)
        try:
            ray.get(train_ref, timeout=30)
            train_failed = False
        except ray.exceptions.RayActorError:
            train_failed = True
        on_disk = load_checkpoint(settings.checkpoint_path or "").version
        lost, dups = _lost_and_duplicated(payloads, settings.transitions_log)
        ok = (
            lost == 0
            and train_failed
            and health["version"] == 1
            and health["resumed_from"] == settings.checkpoint_path
            and on_disk == 1
        )
        return {
            "fault": "trainer actor SIGKILLed mid-training",
            "recovered": ok,
            "recovery_s": round(recovery_s, 3),
            "transitions_lost": lost,
            "transitions_sent": len(payloads),
            "duplicates": dups,
            "resent": feed.resent,
            "resumed_version": health["version"],
            "checkpoint_version_on_disk": on_disk,
            "interrupted_train_failed": train_failed,
        }
    finally:
        ray.kill(trainer, no_restart=True)


def start_small_planner(
    rt: RuntimeConfig, name: str, planner: Any, graph: ServiceGraph, **kw: Any
) -> Any:
    return start_planner(
        rt,
        planner,
        name=name,
        model_config=TINY.model_dump(),
        graphs=[graph_to_dict(graph)],
        poll_interval_s=None,
        **kw,
    )


class _Decider:
    """Decides on successive steps of a broken mesh and records wall times."""

    def __init__(
        self, graph: ServiceGraph, planners: dict[str, Any], deadline_ms: float, slack_ms: float
    ) -> None:
        self.graph, self.deadline_ms, self.slack_ms = graph, deadline_ms, slack_ms
        cfg = ControllerConfig(deadline_ms=deadline_ms)
        self.ctl = AutohealController(
            graph, ActorDispatcher(planners), RecordingExecutor(), config=cfg
        )
        self.step = itertools.count()
        self.walls: list[float] = []

    def decide(self) -> Any:
        state = mesh_state(self.graph, next(self.step), broken=self.graph.services[-1])
        t0 = time.perf_counter()
        d = self.ctl.decide(state)
        self.walls.append((time.perf_counter() - t0) * 1e3)
        return d

    def until(self, ok: Callable[[Any], bool], timeout_s: float = 120.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            d = self.decide()
            if ok(d):
                return d
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            time.sleep(0.1)

    def late(self) -> int:
        return sum(1 for w in self.walls if w > self.deadline_ms + self.slack_ms)


def _all_ok(d: Any) -> bool:
    return all(o.status == "ok" for o in d.outcomes.values())


def planner_faults(
    rt: RuntimeConfig, *, deadline_ms: float = 800.0, slack_ms: float = SLACK_MS
) -> list[dict[str, Any]]:
    """(Ray) Planner actors killed (SIGKILL) and hung; every decision must still come within the
    deadline: from the other planner, then from the rule-based fallback.

    Rows: planner killed (the other answers; recovery = until the restarted one answers again),
    planner hung (the other answers at the deadline; the hung one is never queued behind), both
    down (one hung, one killed: the fallback answers). A decision is late when it takes longer
    than ``deadline_ms + slack_ms`` (the slack covers the controller's own work and scheduling
    noise on a busy machine).
    """
    g = bench_graph()
    cem = start_small_planner(rt, "rel-cem", "cem", g, planner_config=CEM_SMALL)
    mcts = start_small_planner(rt, "rel-mcts", "mcts", g, planner_config=MCTS_SMALL)
    hang = start_small_planner(rt, "rel-hang", partial(HangingPlanner, 600.0, **CEM_SMALL), g)
    rows = []
    try:
        ray.get([h.health.remote() for h in (cem, mcts, hang)], timeout=120)
        two = _Decider(g, {"cem": cem, "mcts": mcts}, deadline_ms, slack_ms)
        two.until(_all_ok)
        two.walls.clear()
        pid = _actor_pid(cem)
        os.kill(pid, signal.SIGKILL)
        t_kill = time.perf_counter()
        first = two.decide()
        two.until(lambda d: d.outcomes["cem"].status == "ok")
        rows.append(
            {
                "fault": "planner actor SIGKILLed",
                "recovered": first.chosen == "mcts" and two.late() == 0,
                "recovery_s": round(time.perf_counter() - t_kill, 3),
                "transitions_lost": None,
                "answered_by": first.chosen,
                "decisions": len(two.walls),
                "decision_ms_max": round(max(two.walls), 1),
                "late_decisions": two.late(),
            }
        )
        hung = _Decider(g, {"cem": cem, "hang": hang}, deadline_ms, slack_ms)
        ds = [hung.decide() for _ in range(3)]
        rows.append(
            {
                "fault": "planner actor hung (600 s)",
                "recovered": all(d.chosen == "cem" for d in ds) and hung.late() == 0,
                "recovery_s": round(hung.walls[0] / 1e3, 3),
                "transitions_lost": None,
                "answered_by": ds[0].chosen,
                "hung_status": [d.outcomes["hang"].status for d in ds],
                "decisions": len(ds),
                "decision_ms_max": round(max(hung.walls), 1),
                "late_decisions": hung.late(),
            }
        )
        hung.walls.clear()
        pid = _actor_pid(cem)
        os.kill(pid, signal.SIGKILL)
        t_kill = time.perf_counter()
        first = hung.decide()
        hung.until(lambda d: d.outcomes["cem"].status == "ok")
        rows.append(
            {
                "fault": "both planners down (one hung, one SIGKILLed)",
                "recovered": first.chosen == "fallback" and hung.late() == 0,
                "recovery_s": round(time.perf_counter() - t_kill, 3),
                "transitions_lost": None,
                "answered_by": first.chosen,
                "fallback_action": str(first.action),
                "decisions": len(hung.walls),
                "decision_ms_max": round(max(hung.walls), 1),
                "late_decisions": hung.late(),
            }
        )
        return rows
    finally:
        for h in (cem, mcts, hang):
            ray.kill(h, no_restart=True)


def _node_of(handle: Any) -> str:
    return str(
        ray.get(
            handle.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()),
            timeout=60,
        )
    )


def worker_node_lost(
    workdir: str | Path,
    *,
    deadline_ms: float = 800.0,
    slack_ms: float = SLACK_MS,
    object_store_mb: int = 80,
) -> dict[str, Any]:
    """A worker node dies (its raylet and workers SIGKILLed) under a running service.

    Starts its own ``Cluster``: a head with no CPUs (it hosts nothing) and worker A with the
    trainer and both planners; worker B joins empty; then A is killed. Checks: every decision
    during the outage comes within the deadline (the fallback answers while no planner is up);
    the planners and the trainer are rescheduled on B; both planners answer again; the trainer
    resumed from its checkpoint; every transition sent before and during the outage reached it.
    """
    if ray.is_initialized():
        raise RuntimeError("worker_node_lost starts its own cluster: call it with no Ray running")
    from ray.cluster_utils import Cluster

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    mem = object_store_mb * 2**20
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "object_store_memory": mem,
            "include_dashboard": False,
            "_system_config": HEALTH_CHECK_FAST,
        },
    )
    try:
        node_a = cluster.add_node(num_cpus=2, object_store_memory=mem)
        ray.init(address=cluster.address, namespace="aither_wm_nodeloss", log_to_driver=False)
        rt = RuntimeConfig(
            namespace="aither_wm_nodeloss",
            planner_num_cpus=0.5,
            trainer_num_cpus=0.5,
            max_restarts=3,
        )
        g = bench_graph()
        settings = _trainer_settings(wd)
        trainer = start_trainer(rt, settings, [graph_to_dict(g)])
        planners = {
            "cem": start_small_planner(rt, "cem", "cem", g, planner_config=CEM_SMALL),
            "mcts": start_small_planner(rt, "mcts", "mcts", g, planner_config=MCTS_SMALL),
        }
        handles = [trainer, *planners.values()]
        ray.get([h.health.remote() for h in handles], timeout=180)
        before = {_node_of(h) for h in handles}
        node_b = cluster.add_node(num_cpus=2, object_store_memory=mem)
        cluster.wait_for_nodes()
        payloads = [t.model_dump(mode="json") for t in toy_transitions(g, steps=96)]
        chunks = [payloads[i : i + 8] for i in range(0, len(payloads), 8)]
        feed = TrainerFeed(trainer)
        for c in chunks[:4]:
            feed.send(c)
        _drain(feed)
        decider = _Decider(g, planners, deadline_ms, slack_ms)
        decider.until(_all_ok)
        decider.walls.clear()
        old_pid = _actor_pid(trainer)
        t_kill = time.perf_counter()
        cluster.remove_node(node_a, allow_graceful=False)
        chosen = []
        rest = list(chunks[4:])  # one batch per decision, sent during the outage
        deadline = time.monotonic() + 180
        while True:
            d = decider.decide()
            chosen.append(d.chosen)
            if rest:
                feed.send(rest.pop(0))
            elif _all_ok(d):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("planners did not come back after the node loss")
            time.sleep(0.1)
        health = _wait_restarted(trainer, old_pid)
        recovery_s = time.perf_counter() - t_kill
        _drain(feed)
        after = {_node_of(h) for h in handles}
        lost, dups = _lost_and_duplicated(payloads, settings.transitions_log)
        ok = (
            before == {node_a.node_id}
            and after == {node_b.node_id}
            and lost == 0
            and decider.late() == 0
            and health["version"] == 1
        )
        return {
            "fault": "worker node lost (Cluster: head + 2 workers)",
            "recovered": ok,
            "recovery_s": round(recovery_s, 3),
            "transitions_lost": lost,
            "transitions_sent": len(payloads),
            "duplicates": dups,
            "resent": feed.resent,
            "rescheduled_on_survivor": after == {node_b.node_id},
            "answered_by_during_outage": sorted(set(chosen)),
            "decisions": len(decider.walls),
            "decision_ms_max": round(max(decider.walls), 1),
            "late_decisions": decider.late(),
            "trainer_resumed_version": health["version"],
        }
    finally:
        ray.shutdown()
        cluster.shutdown()
