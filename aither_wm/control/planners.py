"""Planner services: one planner bound to one world model, answering plan requests.

:class:`PlannerService` is a plain class; ``aither_wm.runtime.actors.PlannerActor`` wraps the very
same class in a Ray actor, and :class:`LocalDispatcher` runs several of them in threads of this
process, so the controller behaves the same in a test, a notebook and a cluster.

A request carries the mesh state (a few KB), a seed and a search deadline; the service encodes the
state with its own copy of the model, builds the shared objective, plans, and replies with plain
values. Weights arrive as ``(version, state_dict)``; every reply names the version it used.

Glossary: D latent size, K flat actions, H horizon.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

from aither_wm.config import ControlModelConfig, WorldModelConfig
from aither_wm.errors import AitherError, StateError
from aither_wm.graph.schema import ServiceGraph, graph_from_dict
from aither_wm.graph.state import Action, MeshState
from aither_wm.models.control_model import ControlModel
from aither_wm.models.mesh_model import Decision, MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.planning import (
    BeamPlanner,
    CEMConfig,
    CEMPlanner,
    MCTSConfig,
    MCTSPlanner,
    PlanObjective,
    ValueObjective,
    action_costs,
    evaluate,
)
from aither_wm.planning.result import Planner

__all__ = [
    "Dispatcher",
    "LocalDispatcher",
    "PlanOutcome",
    "PlanReply",
    "PlanRequest",
    "PlannerService",
    "graph_to_dict",
    "make_beam",
    "make_cem",
    "make_mcts",
]


# --- planner factories (what the registry's "planner" entries point at) ----------------------


def make_cem(config: Mapping[str, Any] | CEMConfig | None = None) -> CEMPlanner:
    """A :class:`CEMPlanner` from a plain config mapping (validated) or a CEMConfig."""
    cfg = config if isinstance(config, CEMConfig) else CEMConfig.model_validate(dict(config or {}))
    return CEMPlanner(cfg)


def make_mcts(config: Mapping[str, Any] | MCTSConfig | None = None) -> MCTSPlanner:
    """An :class:`MCTSPlanner` from a plain config mapping (validated) or an MCTSConfig."""
    cfg = (
        config if isinstance(config, MCTSConfig) else MCTSConfig.model_validate(dict(config or {}))
    )
    return MCTSPlanner(cfg)


def make_beam(config: Mapping[str, Any] | None = None) -> BeamPlanner:
    """A :class:`BeamPlanner` with keyword settings from ``config``."""
    return BeamPlanner(**dict(config or {}))


def graph_to_dict(graph: ServiceGraph) -> dict[str, Any]:
    """The graph-file form of ``graph`` (what actor constructors receive: small, plain)."""
    g = graph.digraph
    return {
        "name": graph.name,
        "services": [
            {
                "name": s,
                "kind": g.nodes[s]["kind"],
                "entrypoint": bool(g.nodes[s].get("entrypoint")),
            }
            for s in graph.services
        ],
        "edges": [
            {"from": u, "to": v, "dependency": d.get("dependency", "hard")}
            for u, v, d in g.edges(data=True)
        ],
    }


# --- requests and replies ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRequest:
    """One decision to plan (the same request goes to every planner).

    Attributes:
        state: the current mesh state.
        seed: seed of the search (the same for every planner of one decision).
        deadline_ms: the planner's search budget (it returns its best plan so far when spent).
        reset: forget warm starts first (a new episode).
        request_id: echoed in the reply.
        blocked: flat actions the caller will not execute now (the guard's cooldown and rate
            limits): masked out of the search, so a plan is never refused after the fact.
        penalties: extra cost per flat action for this decision (e.g. an action whose predicted
            recovery did not come), added to the objective's action costs.
        anchor: a flat action whose plan "anchor, then wait" the reply also prices (the runbook's
            proposal: the controller keeps it unless a plan beats it), or None.
    """

    state: MeshState
    seed: int
    deadline_ms: float | None = None
    reset: bool = False
    request_id: str = ""
    blocked: tuple[int, ...] = ()
    penalties: tuple[tuple[int, float], ...] = ()
    anchor: int | None = None


@dataclass(frozen=True)
class PlanReply:
    """A planner's answer, in plain values.

    Attributes:
        planner: the planner's name.
        first_action: flat index of the action to take now.
        action: ``first_action`` as an Action (decoded by the service; the controller re-decodes).
        actions: the whole flat sequence, length H.
        cost: predicted cost of ``actions`` under the shared objective.
        noop_cost: predicted cost of H no-ops under the same objective (the "wait" baseline).
        weights_version: the model version that produced the plan (0: untrained weights).
        search_ms: the planner's own wall time; the caller measures the round trip.
        rows_evaluated, iterations, hit_deadline: search statistics.
        request_id: the request's id.
        anchor_cost: predicted cost of the request's anchor then no-ops (None: no anchor, or
            the anchor is not valid now).
    """

    planner: str
    first_action: int
    action: Action
    actions: tuple[int, ...]
    cost: float
    noop_cost: float
    weights_version: int
    search_ms: float
    rows_evaluated: int
    iterations: int
    hit_deadline: bool
    request_id: str = ""
    anchor_cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "planner": self.planner,
            "first_action": self.first_action,
            "action": str(self.action),
            "actions": list(self.actions),
            "cost": self.cost,
            "noop_cost": self.noop_cost,
            "weights_version": self.weights_version,
            "search_ms": self.search_ms,
            "rows_evaluated": self.rows_evaluated,
            "iterations": self.iterations,
            "hit_deadline": self.hit_deadline,
            "anchor_cost": self.anchor_cost,
        }


# --- the service -------------------------------------------------------------------------------


class PlannerService:
    """One planner and its own copy of the world model.

    Args:
        planner: a registered planner name (``"cem"``, ``"mcts"``, ``"beam"``, or a plugin's) or
            a zero-argument factory returning a :class:`~aither_wm.planning.Planner`.
        model_config: architecture of the world model (weights come through :meth:`load_weights`);
            a :class:`~aither_wm.config.ControlModelConfig` plans over service tokens with the
            control model's cost and value (:class:`~aither_wm.planning.ValueObjective`).
        graphs: the graphs this service plans for (ServiceGraph or graph-file dicts).
        planner_config: settings passed to the registered planner factory.
        cost_per_type: per-type action costs of the objective (see ``planning.action_costs``).
        min_replicas, max_replicas: action validity bounds.
        model_seed: seed of the untrained initial weights (version 0).
        name: the name replies carry (default: the planner name).
        precision: planning precision of the bound model ("auto": bf16 where the hardware runs it
            natively, else fp32; see ``aither_wm.models.packed``).
        objective: builds the objective of a decision from the decision and its per-action cost
            table [K] (default: ``PlanObjective(goal=decision.goal, action_cost=costs)``); e.g.
            ``aither_wm.eval.health.HealthObjective`` with a fitted health head.
    """

    def __init__(
        self,
        planner: str | Callable[[], Planner] = "cem",
        *,
        model_config: WorldModelConfig | ControlModelConfig | Mapping[str, Any] | None = None,
        graphs: Sequence[ServiceGraph | Mapping[str, Any]] = (),
        planner_config: Mapping[str, Any] | None = None,
        cost_per_type: Mapping[str, float] | None = None,
        min_replicas: int = 1,
        max_replicas: int = 10,
        model_seed: int = 0,
        name: str | None = None,
        objective: Callable[[Decision, torch.Tensor], PlanObjective] | None = None,
        precision: str = "auto",
    ) -> None:
        self._objective = objective
        if isinstance(planner, str):
            from aither_wm.registry import default_registry

            self.planner: Planner = default_registry().create("planner", planner, planner_config)
            self.name = name or planner
        else:
            self.planner = planner()
            self.name = name or str(getattr(self.planner, "name", "planner"))
        cfg: WorldModelConfig | ControlModelConfig
        if isinstance(model_config, WorldModelConfig | ControlModelConfig):
            cfg = model_config
        elif model_config is not None and "world" in model_config:
            cfg = ControlModelConfig.model_validate(dict(model_config))
        else:
            cfg = WorldModelConfig.model_validate(dict(model_config or {}))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(model_seed)
            self._mesh = MeshWorldModel(
                ControlModel(cfg) if isinstance(cfg, ControlModelConfig) else WorldModel(cfg),
                min_replicas=min_replicas,
                max_replicas=max_replicas,
                precision=precision,
            )
        self.graphs: dict[str, ServiceGraph] = {}
        for g in graphs:
            graph = g if isinstance(g, ServiceGraph) else graph_from_dict(dict(g), source="<actor>")
            self.graphs[graph.name] = graph
        self.cost_per_type: dict[str | int, float] = {
            k: float(v) for k, v in (cost_per_type or {}).items()
        }
        self.weights_version = 0
        self.plans_served = 0
        self._busy_since: float | None = None
        self._last_ms: float | None = None

    # weights ---------------------------------------------------------------------------------

    def load_weights(self, version: int, state_dict: Mapping[str, torch.Tensor]) -> int:
        """Install weights ``version`` (ignored when not newer); returns the version in use."""
        if int(version) <= self.weights_version:
            return self.weights_version
        self._mesh.model.load_state_dict(dict(state_dict))
        self._mesh.model.eval()
        self.weights_version = int(version)
        self.planner.reset()  # a warm start from another model's table would mislead
        return self.weights_version

    def add_graph(self, graph: ServiceGraph | Mapping[str, Any]) -> None:
        g = (
            graph
            if isinstance(graph, ServiceGraph)
            else graph_from_dict(dict(graph), source="<actor>")
        )
        self.graphs[g.name] = g

    # planning --------------------------------------------------------------------------------

    def plan(self, request: PlanRequest) -> PlanReply:
        """Plan one decision for ``request.state``.

        Raises:
            StateError: the state's graph is unknown here or the state does not match it.
            PlanningError / ShapeError: from the planner.
        """
        started = time.perf_counter()
        self._busy_since = time.time()
        try:
            graph = self.graphs.get(request.state.graph)
            if graph is None:
                raise StateError(
                    f"planner {self.name!r} knows graphs {sorted(self.graphs)}, "
                    f"got a state of {request.state.graph!r}"
                )
            if request.reset:
                self.planner.reset()
            try:
                d = self._mesh.decision(graph, request.state)
            except AitherError:
                raise
            except (AttributeError, TypeError, ValueError, KeyError, OverflowError) as e:
                # a state built without validation (model_construct, unpickled): say so clearly
                raise StateError(
                    f"planner {self.name!r}: the state of {graph.name!r} cannot be encoded "
                    f"({type(e).__name__}: {str(e)[:120]})"
                ) from None
            costs = (
                action_costs(d.type_ids, self.cost_per_type)
                if self.cost_per_type
                else action_costs(d.type_ids)
            )
            mask = d.mask
            if request.blocked:
                mask = mask.clone()
                mask[list(request.blocked)] = False
                mask[0] = True  # waiting is never blocked
            if request.penalties:
                costs = costs.clone()
                for k, extra in request.penalties:
                    costs[k] += float(extra)
            objective = self._build_objective(d, costs)
            result = self.planner.plan(
                d.dynamics,
                d.z0,
                objective,
                mask,
                seed=int(request.seed),
                deadline_ms=request.deadline_ms,
            )
            H = len(result.actions)
            baseline = torch.zeros(2, H, dtype=torch.long)  # [2, H]: waiting, anchor then waiting
            a = request.anchor
            has_anchor = a is not None and 0 <= a < mask.shape[0] and bool(mask[a])
            if has_anchor:
                baseline[1, 0] = int(a)  # type: ignore[arg-type]
            base_cost, _ = evaluate(d.dynamics, d.z0, baseline[: 1 + has_anchor], objective)
            noop_cost = base_cost[:1]  # [1]
            reply = PlanReply(
                planner=self.name,
                first_action=int(result.first_action),
                action=d.space.action(result.first_action),
                actions=tuple(int(a) for a in result.actions),
                cost=float(result.cost),
                noop_cost=float(noop_cost[0]),
                weights_version=self.weights_version,
                search_ms=(time.perf_counter() - started) * 1e3,
                rows_evaluated=int(result.stats.rows_evaluated),
                iterations=int(result.stats.iterations),
                hit_deadline=bool(result.stats.hit_deadline),
                request_id=request.request_id,
                anchor_cost=float(base_cost[1]) if has_anchor else None,
            )
            self.plans_served += 1
            self._last_ms = reply.search_ms
            return reply
        finally:
            self._busy_since = None

    def _build_objective(self, d: Decision, costs: torch.Tensor) -> PlanObjective:
        if self._objective is not None:
            return self._objective(d, costs)
        if d.cost_fn is not None and d.value_fn is not None:
            cfg = getattr(self.planner, "config", None)
            horizon = int(getattr(cfg, "horizon", None) or getattr(self.planner, "horizon", 1))
            return ValueObjective(
                goal=d.goal, action_cost=costs, cost_fn=d.cost_fn, value_fn=d.value_fn,
                horizon=horizon,
            )  # fmt: skip
        return PlanObjective(goal=d.goal, action_cost=costs)

    def reset(self) -> None:
        self.planner.reset()

    def health(self) -> dict[str, Any]:
        """Plain status; safe to call from another thread while :meth:`plan` runs."""
        busy = self._busy_since
        return {
            "name": self.name,
            "pid": os.getpid(),
            "weights_version": self.weights_version,
            "plans_served": self.plans_served,
            "busy_s": None if busy is None else round(time.time() - busy, 3),
            "last_plan_ms": self._last_ms,
            "graphs": sorted(self.graphs),
        }


# --- dispatching one request to several planners ------------------------------------------------

Status = Literal["ok", "error", "timeout", "busy"]


@dataclass(frozen=True)
class PlanOutcome:
    """What became of one planner's share of a decision.

    Attributes:
        name: the planner.
        status: ok, error (it raised), timeout (no answer by the deadline), busy (its previous
            request was still running, so it was not asked).
        reply: the reply when ok.
        error: a one-line reason otherwise.
        round_trip_ms: request sent to reply received (or to the deadline).
    """

    name: str
    status: Status
    reply: PlanReply | None = None
    error: str | None = None
    round_trip_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "error": self.error,
            "round_trip_ms": self.round_trip_ms,
            **(self.reply.to_dict() if self.reply is not None else {}),
        }


class Dispatcher(Protocol):
    """Sends one request to every planner at once and collects answers until a deadline."""

    names: tuple[str, ...]

    def dispatch(self, request: PlanRequest, timeout_s: float) -> dict[str, PlanOutcome]: ...

    def close(self) -> None: ...


@dataclass
class _Pending:
    future: Future[PlanReply]
    sent: float
    done_at: float | None = None

    def __post_init__(self) -> None:
        self.future.add_done_callback(self._mark)

    def _mark(self, _: object) -> None:
        self.done_at = time.perf_counter()


@dataclass
class LocalDispatcher:
    """Runs in-process planners (anything with ``plan(PlanRequest) -> PlanReply``) in threads.

    Each planner has its own single worker thread, so a planner still busy with an earlier
    request is reported ``busy`` rather than queued behind (a hung planner cannot pile up work).
    """

    planners: Mapping[str, Any]
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.names = tuple(self.planners)
        self._pools = {
            n: ThreadPoolExecutor(1, thread_name_prefix=f"planner-{n}") for n in self.names
        }
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def dispatch(self, request: PlanRequest, timeout_s: float) -> dict[str, PlanOutcome]:
        out: dict[str, PlanOutcome] = {}
        sent: dict[str, _Pending] = {}
        with self._lock:
            for n in self.names:
                prev = self._pending.get(n)
                if prev is not None and not prev.future.done():
                    out[n] = PlanOutcome(
                        n,
                        "busy",
                        error=f"previous request still running "
                        f"({time.perf_counter() - prev.sent:.2f} s)",
                    )
                    continue
                p = _Pending(
                    self._pools[n].submit(self.planners[n].plan, request), time.perf_counter()
                )
                self._pending[n] = sent[n] = p
        if sent:
            wait_futures([p.future for p in sent.values()], timeout=max(0.0, timeout_s))
        for n, p in sent.items():
            ms = ((p.done_at or time.perf_counter()) - p.sent) * 1e3
            if not p.future.done():
                out[n] = PlanOutcome(
                    n,
                    "timeout",
                    error=f"no answer within {timeout_s * 1e3:.0f} ms",
                    round_trip_ms=ms,
                )
            elif p.future.exception() is not None:
                e = p.future.exception()
                out[n] = PlanOutcome(
                    n, "error", error=f"{type(e).__name__}: {e}"[:300], round_trip_ms=ms
                )
            else:
                out[n] = PlanOutcome(n, "ok", reply=p.future.result(), round_trip_ms=ms)
        return {n: out[n] for n in self.names}

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
