"""(Ray) Load: concurrent plan requests to planner actors, and an event storm at the controller."""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ray

from aither_wm.bench.reliability.common import (
    CEM_SMALL,
    MCTS_SMALL,
    SLACK_MS,
    bench_graph,
    mesh_state,
    percentile,
)
from aither_wm.bench.reliability.ray_faults import start_small_planner
from aither_wm.control import (
    AuditLog,
    AutohealController,
    ControllerConfig,
    PlanRequest,
    RecordingExecutor,
    read_audit,
)
from aither_wm.graph import MeshState
from aither_wm.runtime.actors import ActorDispatcher
from aither_wm.runtime.host import RuntimeConfig

__all__ = ["event_storm", "plan_load", "start_planner_pair"]


def _callers(planners: list[Any], g: Any, callers: int, per: int) -> tuple[list[float], int, float]:
    """``callers`` threads, each sending ``per`` requests one after the other (round-robin over
    the actors); returns (round trips ms, errors, wall s)."""
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def caller(i: int) -> None:
        for k in range(per):
            p = planners[(i + k) % len(planners)]
            state = mesh_state(g, k, broken=g.services[(i + k) % g.num_services])
            t0 = time.perf_counter()
            try:
                ray.get(p.plan.remote(PlanRequest(state=state, seed=k)), timeout=300)
                ms = (time.perf_counter() - t0) * 1e3
                with lock:
                    lat.append(ms)
            except Exception as e:
                with lock:
                    errors.append(type(e).__name__)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, len(errors), time.perf_counter() - t0


def start_planner_pair(rt: RuntimeConfig, prefix: str = "load") -> dict[str, Any]:
    """A CEM and an MCTS planner actor (small budgets, the tiny model), as the service runs."""
    g = bench_graph()
    return {
        "cem": start_small_planner(rt, f"{prefix}-cem", "cem", g, planner_config=CEM_SMALL),
        "mcts": start_small_planner(rt, f"{prefix}-mcts", "mcts", g, planner_config=MCTS_SMALL),
    }


@contextlib.contextmanager
def _pair(rt: RuntimeConfig, given: dict[str, Any] | None, prefix: str) -> Iterator[dict[str, Any]]:
    planners = given if given is not None else start_planner_pair(rt, prefix)
    try:
        ray.get([p.health.remote() for p in planners.values()], timeout=180)
        yield planners
    finally:
        if given is None:
            for p in planners.values():
                ray.kill(p, no_restart=True)


def plan_load(
    rt: RuntimeConfig,
    *,
    callers: Sequence[int] = (1, 8, 32),
    requests: int = 128,
    planners: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """(Ray) About ``requests`` plan requests to the planner actors (a CEM and an MCTS one,
    started here unless given) from each number of concurrent callers (threads, each waiting for
    its answer before sending the next; requests go round-robin over the actors)."""
    g = bench_graph()
    with _pair(rt, planners, "load") as pair:
        actors = list(pair.values())
        warm = PlanRequest(state=mesh_state(g, broken=g.services[-1]), seed=0)
        ray.get([p.plan.remote(warm) for p in actors for _ in range(2)], timeout=180)
        rows = []
        for c in callers:
            per = max(1, math.ceil(requests / c))
            lat, errors, wall = _callers(actors, g, c, per)
            rows.append(
                {
                    "callers": c,
                    "requests": c * per,
                    "throughput_rps": round(len(lat) / wall, 1),
                    "p50_ms": percentile(lat, 0.5),
                    "p99_ms": percentile(lat, 0.99),
                    "errors": errors,
                }
            )
        return rows


def event_storm(
    rt: RuntimeConfig,
    workdir: str | Path,
    *,
    unique: int = 40,
    copies: int = 20,
    threads: int = 16,
    deadline_ms: float = 800.0,
    slack_ms: float = SLACK_MS,
    planners: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """(Ray) ``unique`` states, each delivered ``copies`` times by ``threads`` concurrent senders
    (an alert storm), at a controller asking two planner actors. Checks: every non-duplicate
    decision within the deadline, each state decided at most once (the rest shed), and the audit
    log holds exactly the decisions. The planner actors are started here unless given."""
    g = bench_graph()
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    audit_path = wd / "storm-audit.jsonl"
    audit_path.unlink(missing_ok=True)
    with _pair(rt, planners, "storm") as pair:
        audit = AuditLog(audit_path)
        ctl = AutohealController(
            g, ActorDispatcher(pair), RecordingExecutor(),
            config=ControllerConfig(deadline_ms=deadline_ms), audit=audit,
        )  # fmt: skip
        states = [mesh_state(g, s, broken=g.services[s % g.num_services]) for s in range(unique)]
        events: queue.Queue[MeshState] = queue.Queue()
        for s in states:
            for _ in range(copies):
                events.put(s)
        out: list[tuple[bool, float, float, int]] = []
        lock = threading.Lock()

        def sender() -> None:
            while True:
                try:
                    s = events.get_nowait()
                except queue.Empty:
                    return
                t0 = time.perf_counter()
                d = ctl.decide(s)
                with lock:
                    out.append(
                        (d.duplicate, d.latency_ms, (time.perf_counter() - t0) * 1e3, d.step)
                    )

        workers = [threading.Thread(target=sender) for _ in range(threads)]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t0
        audit.close()
        decided = [o for o in out if not o[0]]
        audited = read_audit(audit_path).records
        steps = [o[3] for o in decided]
        return {
            "events": len(out),
            "unique_states": unique,
            "decisions": len(decided),
            "shed": len(out) - len(decided),
            "decided_twice": len(steps) - len(set(steps)),
            "audited": len(audited),
            "decision_ms_max": round(max(o[1] for o in decided), 1),
            "decision_ms_p99": percentile([o[1] for o in decided], 0.99),
            "deadline_ms": deadline_ms,
            "late_decisions": sum(1 for o in decided if o[1] > deadline_ms + slack_ms),
            "event_ms_p99": percentile([o[2] for o in out], 0.99),
            "events_per_s": round(len(out) / wall, 1),
        }
