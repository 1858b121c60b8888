"""A small, known dynamical system over any graph: fast training data for tests and the ablation.

Not the simulator (``aither_wm.sim`` models queueing, retries and ten fault types); this is a
deliberately simple system whose structure is known, so a test can say what a model should learn:

* one fault at a time starts at a random service with probability ``fault_rate`` per step:
  ``leak`` (memory +0.12 per step, down at 1.0; restart fixes), ``overload`` (CPU 0.95, latency
  x8; scale_out fixes), ``bad_deploy`` (error rate 0.6, a new version; rollback fixes);
* errors propagate to callers over hard edges (half the callee's error rate, one hop per step);
* actions do what the table says; wrong actions do nothing except restart, which empties memory.
"""

from __future__ import annotations

import random

from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType, MeshState, ServiceState, Transition

__all__ = ["TOY_FAULTS", "toy_transitions"]

TOY_FAULTS = ("leak", "overload", "bad_deploy")
_FIX = {
    "leak": ActionType.restart,
    "overload": ActionType.scale_out,
    "bad_deploy": ActionType.rollback,
}


def _observe(
    graph: ServiceGraph, hidden: dict[str, dict], step: int, rng: random.Random
) -> MeshState:
    services = {}
    for s in graph.services:
        h = hidden[s]
        noise = lambda: rng.gauss(0.0, 0.01)  # noqa: E731
        err = min(1.0, max(0.0, h["err"] + h["inherited"] + noise()))
        lat = 20.0 * (8.0 if h["fault"] == "overload" else 1.0) * (1.0 + 4.0 * h["inherited"])
        down = h["mem"] >= 1.0
        services[s] = ServiceState(
            cpu_util=min(
                1.0,
                max(
                    0.0,
                    (0.95 if h["fault"] == "overload" else 0.3) / max(1, h["rep"] - 1) + noise(),
                ),
            ),
            memory_util=min(1.0, max(0.0, h["mem"] + noise())),
            latency_p50_ms=lat,
            latency_p99_ms=3.0 * lat,
            error_rate=1.0 if down else err,
            request_rate_rps=50.0,
            replicas=0 if down else h["rep"],
            health="down" if down else ("degraded" if err > 0.1 else "healthy"),
            version=h["ver"],
            previous_version=h["prev"],
        )
    return MeshState(graph=graph.name, step=step, services=services)


def toy_transitions(
    graph: ServiceGraph,
    *,
    steps: int,
    seed: int = 0,
    fault_rate: float = 0.08,
    act_rate: float = 0.5,
) -> list[Transition]:
    """``steps`` transitions of the toy system under a random behaviour policy (seeded)."""
    rng = random.Random(seed)
    hidden = {s: {"fault": None, "mem": 0.3, "err": 0.0, "inherited": 0.0, "rep": 2, "ver": 1, "prev": None}
              for s in graph.services}  # fmt: skip
    out: list[Transition] = []
    state = _observe(graph, hidden, 0, rng)
    for t in range(steps):
        active = [s for s in graph.services if hidden[s]["fault"]]
        if not active and rng.random() < fault_rate:
            s = rng.choice(graph.services)
            f = rng.choice(TOY_FAULTS)
            hidden[s]["fault"] = f
            if f == "bad_deploy":
                hidden[s].update(err=0.6, prev=hidden[s]["ver"], ver=hidden[s]["ver"] + 1)
            active = [s]
        # behaviour policy: often the true fix for the faulty service, sometimes random, else noop
        u = rng.random()
        if active and u < act_rate * 0.5:
            action = Action(type=_FIX[hidden[active[0]]["fault"]], target=active[0])
        elif u < act_rate:
            kind = rng.choice(
                (ActionType.restart, ActionType.scale_out, ActionType.scale_in, ActionType.rollback)
            )
            action = Action(type=kind, target=rng.choice(graph.services))
        else:
            action = Action.noop()
        h = hidden.get(action.target or "")
        if h is not None:
            if action.type is ActionType.restart:
                h["mem"] = 0.3
                if h["fault"] == "leak":
                    h["fault"] = None
            elif action.type is ActionType.scale_out and h["rep"] < 10:
                h["rep"] += 1
                if h["fault"] == "overload":
                    h["fault"] = None
            elif action.type is ActionType.scale_in and h["rep"] > 1:
                h["rep"] -= 1
            elif action.type is ActionType.rollback and h["prev"] is not None:
                h.update(ver=h["prev"], prev=None, err=0.0)
                if h["fault"] == "bad_deploy":
                    h["fault"] = None
        for s in graph.services:  # dynamics
            hs = hidden[s]
            if hs["fault"] == "leak":
                hs["mem"] = min(1.0, hs["mem"] + 0.12)
            if hs["fault"] != "bad_deploy":
                hs["err"] = 0.0
        new_inh = {}
        for s in graph.services:
            callee_err = [hidden[v]["err"] + hidden[v]["inherited"] + (1.0 if hidden[v]["mem"] >= 1.0 else 0.0)
                          for v in graph.callees(s) if graph.digraph.edges[s, v]["dependency"] == "hard"]  # fmt: skip
            new_inh[s] = min(0.9, 0.5 * max(callee_err, default=0.0))
        for s in graph.services:
            hidden[s]["inherited"] = new_inh[s]
        nxt = _observe(graph, hidden, t + 1, rng)
        out.append(Transition(graph=graph.name, state=state, action=action, next_state=nxt,
                              timestamp=1.7e9 + 15.0 * t, faults=[f"{hidden[s]['fault']}:{s}" for s in active]))  # fmt: skip
        state = nxt
    return out
