"""The host-facing plugin object: lifecycle (``setup``, ``start``, ``health``, ``stop``, all
idempotent) and the calls a remediation policy makes (``decide``, ``plan``, and their ``async``
twins). docs/host.md is the guide; ``examples/host_policy.py`` runs it::

    plugin = AitherPlugin(PluginConfig(graph="online-boutique"))
    plugin.start()                       # Ray (embedded, or RAY_ADDRESS) and the named actors
    plugin.train(transitions, steps=200) # optional: learn from logged transitions, publish
    decision = plugin.decide(state)      # both planners' plans, the pick and why, the guard
    reply = plugin.plan(state, planner="mcts")   # one planner's plan, nothing guarded
    plugin.stop()                        # kill the actors it started, shut down a Ray it started

``start`` checks the configuration first (:mod:`aither_wm.runtime.validate`: every name, path and
number, before Ray starts), derives each actor's CPU share from the CPUs Ray has
(:mod:`aither_wm.runtime.resources`: every planner starts on a 2-core machine), and waits until
every actor answers, naming the ones that do not. Actors are named in the plugin's namespace and
created with ``get_if_exists``, so a second host process (or a second ``start``) attaches to the
running ones instead of starting duplicates.

:class:`PluginConfig` and :class:`ServiceConfig` (the ``aither-wm run`` file) live in
:mod:`aither_wm.runtime.settings` and are re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import ray

from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import AutohealController, ControlDecision, ControllerConfig
from aither_wm.control.executor import Executor, RecordingExecutor
from aither_wm.control.planners import PlanReply, PlanRequest, graph_to_dict
from aither_wm.errors import AitherError, PlanningError, StateError, one_line
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import MeshState, Transition, nominal_service_state, parse_state
from aither_wm.runtime.actors import (
    ActorDispatcher,
    actor_name,
    gather,
    start_encoder,
    start_planner,
    start_trainer,
)
from aither_wm.runtime.host import RayHost
from aither_wm.runtime.metrics import record_decision
from aither_wm.runtime.resources import ActorResources, check_schedulable, derive_resources
from aither_wm.runtime.services import TrainerSettings
from aither_wm.runtime.settings import (
    PlannerSpec,
    PluginConfig,
    ServiceConfig,
    load_service_config,
)

__all__ = [
    "AitherPlugin",
    "ControlDecision",
    "PlanReply",
    "PlannerSpec",
    "PluginConfig",
    "ServiceConfig",
    "load_service_config",
]


class AitherPlugin:
    """The plugin's actors and the calls a host makes on them (see the module docstring).

    Args:
        config: the plugin's settings.
        graph: the graph, if already loaded (else read from ``config.graph``).
        controller: settings of the controller behind :meth:`decide` (default: dry-run guard,
            plans of any weights version).
        executor: carries out actions :meth:`decide` admits when the guard is not in dry-run
            (default: a ``RecordingExecutor``, which changes nothing).
        audit_log: a JSONL file every :meth:`decide` appends to (None: not audited).
    """

    def __init__(
        self,
        config: PluginConfig | None = None,
        *,
        graph: ServiceGraph | None = None,
        controller: ControllerConfig | None = None,
        executor: Executor | None = None,
        audit_log: str | Path | None = None,
    ) -> None:
        self.config = config or PluginConfig()
        self.graph = graph or load_graph(self.config.graph)
        self.host = RayHost(self.config.runtime)
        self.controller_config = controller or ControllerConfig()
        self.executor: Executor = executor if executor is not None else RecordingExecutor()
        self.audit_log = audit_log
        self.trainer: Any = None
        self.planners: dict[str, Any] = {}
        self.encoder: Any = None
        self.resources: ActorResources | None = None
        self._extra: dict[str, Any] = {}
        self._controller: AutohealController | None = None
        self._audit: AuditLog | None = None
        self._model_config: dict[str, Any] | None = None
        self.is_setup = False
        self.is_started = False

    @property
    def namespace(self) -> str:
        return self.config.runtime.namespace

    # lifecycle ---------------------------------------------------------------------------------

    def validate(self) -> None:
        """Check every name, path and number of the config (no Ray needed); raise ConfigError
        (one line) on the first problem. :meth:`start` calls it before Ray starts."""
        from aither_wm.runtime.validate import validate_plugin_config

        self._model_config = validate_plugin_config(self.config, graph=self.graph)

    def setup(self) -> dict[str, Any]:
        """Start or connect to Ray (idempotent); returns the host summary."""
        if not self.is_setup:
            self.host.start()
            self.is_setup = True
        return dict(self.host.info)

    def trainer_settings(self) -> TrainerSettings:
        c = self.config
        return TrainerSettings(
            model=c.model,
            train=c.train,
            checkpoint_path=c.checkpoint,
            transitions_log=c.trainer_transitions_log,
        )

    def derive_resources(self, cpus: float) -> ActorResources:
        """Each actor's reservation on a Ray with ``cpus`` CPUs (unset requests derived)."""
        rt = self.config.runtime
        return derive_resources(
            cpus=cpus,
            planners=len(self.config.planners),
            use_encoder=self.config.use_encoder,
            trainer_cpus=rt.trainer_num_cpus,
            planner_cpus=rt.planner_num_cpus,
            encoder_cpus=rt.encoder_num_cpus,
            controller_cpus=rt.controller_num_cpus,
            trainer_gpus=rt.trainer_num_gpus,
        )

    def start(self) -> dict[str, Any]:
        """Validate, start Ray, create (or attach to) the trainer, planner and encoder actors,
        and wait until each answers (idempotent). ``runtime.controller_num_cpus`` (the service's
        controller actor) is counted when the shares are derived.

        Raises:
            ConfigError: a bad name, path or number, or actors that cannot be scheduled on this
                (fixed-size) Ray.
            AitherError: an actor did not answer within ``runtime.start_timeout_s``.
        """
        if self.is_started:
            return self.names()
        if self._model_config is None:
            self.validate()
        info = self.setup()
        try:
            self._start_actors(info)
        except BaseException:
            self.stop()  # nothing half-started is left behind (nor a Ray this object started)
            raise
        return self.names()

    def _start_actors(self, info: Mapping[str, Any]) -> None:
        c = self.config
        res = self.derive_resources(float(info["cpus"]))
        note = check_schedulable(
            res,
            cpus=float(info["cpus"]),
            gpus=float(info["gpus"]),
            is_fixed_size=bool(info.get("is_fixed_size")),
        )
        if note:
            warnings.warn(note, RuntimeWarning, stacklevel=3)
        self.resources = res
        rt = c.runtime.model_copy(
            update={
                "trainer_num_cpus": res.trainer_cpus,
                "planner_num_cpus": res.planner_cpus,
                "encoder_num_cpus": res.encoder_cpus,
            }
        )
        graphs = [graph_to_dict(self.graph)]
        for path in (c.checkpoint, c.trainer_transitions_log):
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.trainer = start_trainer(rt, self.trainer_settings(), graphs)
        trainer_name = actor_name("trainer")
        for name, spec in c.planners.items():
            self.planners[name] = start_planner(
                rt,
                spec.kind,
                name=name,
                trainer=trainer_name,
                model_config=self._model_config,
                graphs=graphs,
                planner_config=spec.config,
                cost_per_type=c.cost_per_type or None,
                poll_interval_s=c.poll_interval_s,
            )
        if c.use_encoder:
            self.encoder = start_encoder(rt, self._model_config or {}, graphs, trainer=trainer_name)
        self.is_started = True
        self.wait_ready(c.runtime.start_timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until every actor answers ``health()`` and every planner has planned once (a
        nominal state: the first plan of a fresh actor builds its caches, which would otherwise
        miss the first decision's deadline); name the actors that do not.

        Raises:
            AitherError: an actor failed in its constructor, or was not scheduled in time (the
                message gives Ray's free CPUs and the actors' reservations).
        """
        deadline = time.monotonic() + timeout_s
        res = gather({n: h.health.remote() for n, h in self._actors().items()}, timeout_s)
        if all(s == "ok" for s, _ in res.values()):
            g = self.graph
            nominal = MeshState(
                graph=g.name, services={s: nominal_service_state() for s in g.services}
            )
            warm = PlanRequest(state=nominal, seed=0, reset=True)
            refs = {f"planner.{n}": h.plan.remote(warm) for n, h in self.planners.items()}
            res = gather(refs, max(1.0, deadline - time.monotonic()))
        bad = {n: (s, v) for n, (s, v) in res.items() if s != "ok"}
        if not bad:
            return
        failed = [f"{n}: {v}" for n, (s, v) in bad.items() if s == "error"]
        late = [n for n, (s, _) in bad.items() if s == "timeout"]
        parts = []
        if failed:
            parts.append("failed to start: " + "; ".join(failed))
        if late:
            free = ray.available_resources().get("CPU", 0.0)
            parts.append(
                f"{', '.join(late)} not running after {timeout_s:g} s (Ray has {free:g} CPUs "
                f"free; the actors reserve {self.resources.describe() if self.resources else '?'})"
            )
        raise AitherError("plugin actors " + "; ".join(parts))

    def add_actor(self, role: str, handle: Any) -> None:
        """Track another actor (e.g. the controller) for ``health`` and ``stop``."""
        self._extra[role] = handle

    def names(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "namespace": self.namespace,
            "trainer": actor_name("trainer"),
            "planners": {n: actor_name("planner", n) for n in self.planners},
        }
        if self.encoder is not None:
            out["encoder"] = actor_name("encoder")
        return out

    def dispatcher(self) -> ActorDispatcher:
        """A dispatcher over this plugin's planner actors (for an in-driver controller)."""
        if not self.is_started:
            self.start()
        return ActorDispatcher(self.planners)

    def sync_weights(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Make every planner (and the encoder) pull the trainer's latest weights now."""
        refs = {n: h.sync_weights.remote() for n, h in self.planners.items()}
        if self.encoder is not None:
            refs["encoder"] = self.encoder.sync_weights.remote()
        return {n: v if s == "ok" else f"{s}: {v}" for n, (s, v) in gather(refs, timeout_s).items()}

    def _actors(self) -> dict[str, Any]:
        actors: dict[str, Any] = {
            "trainer": self.trainer,
            **{f"planner.{n}": h for n, h in self.planners.items()},
        }
        if self.encoder is not None:
            actors["encoder"] = self.encoder
        actors.update(self._extra)
        return actors

    def health(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Every actor's ``health()``, gathered with one deadline; an actor that does not answer
        in time (or is dead) is reported, not raised."""
        if not self.is_started:
            return {"status": "not started", "ray": dict(self.host.info)}
        started = time.perf_counter()
        res = gather({n: h.health.remote() for n, h in self._actors().items()}, timeout_s)
        report = {n: (v if s == "ok" else {"status": s, "error": v}) for n, (s, v) in res.items()}
        ok = all(s == "ok" for s, _ in res.values())
        return {
            "status": "ok" if ok else "degraded",
            "actors": report,
            "latency_ms": (time.perf_counter() - started) * 1e3,
            "ray": dict(self.host.info),
        }

    def stop(self) -> None:
        """Kill the actors this object started or attached to and shut down a Ray it started
        (idempotent)."""
        if ray.is_initialized():
            handles = [self.trainer, self.encoder, *self.planners.values(), *self._extra.values()]
            for h in handles:
                if h is not None:
                    with contextlib.suppress(Exception):  # already dead
                        ray.kill(h, no_restart=True)
        if self._audit is not None:
            self._audit.close()
        self.trainer, self.encoder = None, None
        self.planners, self._extra = {}, {}
        self._controller, self._audit = None, None
        self.is_started = False
        self.host.stop()
        self.is_setup = False

    def __enter__(self) -> AitherPlugin:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what a remediation policy calls -----------------------------------------------------------

    def train(
        self,
        transitions: Iterable[Transition | Mapping[str, Any]] = (),
        *,
        steps: int | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """Send ``transitions`` to the trainer, train ``steps`` (default: ``train.steps``), and
        make every planner use the result; returns the trainer's summary (``version``,
        ``published``, ``gate``, ...). A run the regression gate rejects keeps the old weights.

        Raises:
            AitherError: the trainer refused the data (too few transitions, another graph).
        """
        if not self.is_started:
            self.start()
        try:
            batch = list(transitions)
            if batch:
                ray.get(self.trainer.ingest.remote(batch), timeout=timeout_s)
            result: dict[str, Any] = ray.get(self.trainer.train.remote(steps), timeout=timeout_s)
        except ray.exceptions.RayTaskError as e:
            raise AitherError(f"training failed: {one_line(e)}") from None
        result.pop("history", None)
        self.sync_weights()
        return result

    def state(self, state: MeshState | Mapping[str, Any]) -> MeshState:
        """``state`` as a MeshState of this plugin's graph (a dict is the JSON state format).

        Raises:
            StateError: not a state of this graph (the first bad field is named).
        """
        if isinstance(state, MeshState):
            state.check_graph(self.graph)
            return state
        if not isinstance(state, Mapping):
            raise StateError(f"expected a MeshState or its JSON object, got {type(state).__name__}")
        return parse_state(dict(state), self.graph)

    def controller(self) -> AutohealController:
        """The controller behind :meth:`decide` (built on first use, over the planner actors)."""
        if self._controller is None:
            if self.audit_log is not None and self._audit is None:
                self._audit = AuditLog(self.audit_log)
            self._controller = AutohealController(
                self.graph,
                self.dispatcher(),
                self.executor,
                config=self.controller_config,
                audit=self._audit,
            )
        return self._controller

    def decide(self, state: MeshState | Mapping[str, Any]) -> ControlDecision:
        """One guarded decision for ``state``: every planner asked at once, the pick and why,
        the guard's verdict, executed only when the guard is not in dry-run (the default).

        Returns a :class:`~aither_wm.control.controller.ControlDecision`: ``outcomes`` (each
        planner's status and plan), ``chosen`` and ``reason``, ``action``, ``verdict``,
        ``executed``, ``agreement``, ``latency_ms``; ``to_record()`` gives it as JSON.
        """
        decision = self.controller().decide(self.state(state))
        if not decision.duplicate:
            record_decision(decision.to_record())
        return decision

    async def decide_async(self, state: MeshState | Mapping[str, Any]) -> ControlDecision:
        """:meth:`decide` without blocking the event loop (it runs in a worker thread)."""
        return await asyncio.to_thread(self.decide, state)

    def _plan_ref(
        self,
        state: MeshState | Mapping[str, Any],
        planner: str,
        seed: int,
        deadline_ms: float | None,
    ) -> Any:
        if not self.is_started:
            self.start()
        if planner not in self.planners:
            raise PlanningError(f"no planner named {planner!r} (started: {sorted(self.planners)})")
        request = PlanRequest(state=self.state(state), seed=seed, deadline_ms=deadline_ms)
        return self.planners[planner].plan.remote(request)

    def plan(
        self,
        state: MeshState | Mapping[str, Any],
        planner: str = "cem",
        *,
        seed: int = 0,
        deadline_ms: float | None = None,
        timeout_s: float = 30.0,
    ) -> PlanReply:
        """One planner's plan for ``state`` (not guarded, not executed, not audited).

        Raises:
            PlanningError: unknown planner, or it failed or did not answer in ``timeout_s``.
        """
        ref = self._plan_ref(state, planner, seed, deadline_ms)
        try:
            reply: PlanReply = ray.get(ref, timeout=timeout_s)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayError) as e:
            raise _plan_error(planner, e, timeout_s) from None
        return reply

    async def plan_async(
        self,
        state: MeshState | Mapping[str, Any],
        planner: str = "cem",
        *,
        seed: int = 0,
        deadline_ms: float | None = None,
        timeout_s: float = 30.0,
    ) -> PlanReply:
        """:meth:`plan`, awaited (the actor call's ref is awaited; nothing blocks the loop)."""
        ref = self._plan_ref(state, planner, seed, deadline_ms)
        try:
            reply: PlanReply = await asyncio.wait_for(ref, timeout=timeout_s)
        except (asyncio.TimeoutError, ray.exceptions.RayError) as e:
            raise _plan_error(planner, e, timeout_s) from None
        return reply


def _plan_error(planner: str, e: BaseException, timeout_s: float) -> PlanningError:
    """The one-line error of a plan that timed out (``ray.get``'s or asyncio's) or failed."""
    if isinstance(e, ray.exceptions.GetTimeoutError | asyncio.TimeoutError):
        return PlanningError(f"planner {planner!r} did not answer within {timeout_s:g} s")
    return PlanningError(f"planner {planner!r} failed: {one_line(e, with_type=True)}")
