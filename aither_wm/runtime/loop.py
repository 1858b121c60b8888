"""The control loop: a state source feeds the controller; transitions are logged (no Ray here).

One :meth:`ControlLoop.tick`: observe a state, log the transition from the previous state (under
the action that was really executed: a no-op when the guard refused it or in dry-run), decide,
execute through the executor (inside the controller), and hand transitions to the trainer in
batches. ``ControllerActor`` runs this same loop inside Ray, built by :func:`build_loop` from a
:class:`LoopSpec` that names its components (registry names, never import paths).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from aither_wm.config import FrozenConfig
from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import AutohealController, ControlDecision, ControllerConfig
from aither_wm.control.executor import Executor, RecordingExecutor
from aither_wm.control.gate import AnomalyGate
from aither_wm.control.planners import Dispatcher
from aither_wm.graph.schema import ServiceGraph, graph_from_dict
from aither_wm.graph.state import Action, MeshState, Transition
from aither_wm.registry import Registry, build_registry

__all__ = [
    "ComponentRef",
    "ControlLoop",
    "LoopSpec",
    "StateSource",
    "build_loop",
    "create_component",
]


@runtime_checkable
class StateSource(Protocol):
    """Where mesh states come from (the simulator, or a host's metrics pipeline)."""

    def observe(self) -> MeshState:
        """The current state; each call is one step later than the previous one."""
        ...


class ComponentRef(FrozenConfig):
    """A component named in a configuration: a registry name and its options."""

    name: str
    """Registered name (``aither-wm plugins list``)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of its factory."""


class LoopSpec(FrozenConfig):
    """Everything :func:`build_loop` needs, as plain values (what ``ControllerActor`` receives)."""

    namespace: str = "aither_wm"
    """Ray namespace of the planner and trainer actors."""
    graph: dict[str, Any]
    """The mesh, as a graph-file dict."""
    planners: tuple[str, ...] = ("cem", "mcts")
    """Planner actor names (``aither_wm.planner.<name>``)."""
    trainer: str | None = "aither_wm.trainer"
    """Trainer actor name transitions are sent to (None: not sent)."""
    controller: ControllerConfig = ControllerConfig()
    """Controller (and guard) settings."""
    state_source: ComponentRef = ComponentRef(name="sim")
    """The state source."""
    executor: ComponentRef | None = None
    """The executor; None: the state source's own (``source.executor()``) or a recording one."""
    audit_log: str | None = None
    """Audit log path (JSONL)."""
    transitions_log: str | None = None
    """Transitions log path (JSONL), written by the loop."""
    ingest_batch: int = Field(default=32, ge=1)
    """Transitions per batch sent to the trainer."""
    plugin_allow: tuple[str, ...] | None = None
    """Only these entry-point plugins may be loaded (None: every installed one)."""


def create_component(registry: Registry, kind: str, ref: ComponentRef, **available: Any) -> Any:
    """Build ``ref`` from ``registry``, passing those of ``available`` its factory accepts."""
    factory = registry.load(kind, ref.name)
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    extra = {k: v for k, v in available.items() if takes_any or k in params}
    return factory(**extra, **ref.options)


class ControlLoop:
    """Source -> controller -> (executor), with transitions logged and batched to a trainer.

    Args:
        source: the state source.
        controller: the controller (it owns the executor, guard and audit log).
        transitions_log: a path to append transitions to (None: not logged).
        on_transitions: called with each full batch of new transitions (e.g. trainer ingest).
        ingest_batch: batch size for ``on_transitions``.
        gate: an :class:`~aither_wm.control.gate.AnomalyGate`: when given, the controller is
            consulted only when the gate says so (an open incident, or a failing health check);
            other steps are logged as no-ops without asking the planners.
    """

    def __init__(
        self,
        source: StateSource,
        controller: AutohealController,
        *,
        transitions_log: str | None = None,
        on_transitions: Callable[[list[Transition]], None] | None = None,
        ingest_batch: int = 32,
        gate: AnomalyGate | None = None,
    ) -> None:
        self.source = source
        self.gate = gate
        self.skipped = 0
        self.controller = controller
        self._writer = None
        if transitions_log:
            from aither_wm.data.log import TransitionLogWriter

            self._writer = TransitionLogWriter(transitions_log)
        self._on_transitions = on_transitions
        self._batch: list[Transition] = []
        self.ingest_batch = ingest_batch
        self._prev: tuple[MeshState, Action, tuple[str, ...]] | None = None
        self.ticks = 0
        self.transitions = 0
        self.executed = 0
        self.last_tick_s: float | None = None

    def tick(self) -> ControlDecision | None:
        """One step; returns the controller's decision, or None when the gate kept it asleep."""
        state = self.source.observe()
        if self._prev is not None:
            prev, action, faults = self._prev
            if self.gate is not None:
                self.gate.observe(prev, action, state)
            tr = Transition(
                graph=state.graph,
                state=prev,
                action=action,
                next_state=state,
                timestamp=time.time(),
                faults=list(faults),
            )
            if self._writer is not None:
                self._writer.append(tr)
            self.transitions += 1
            self._batch.append(tr)
            if len(self._batch) >= self.ingest_batch:
                self.flush()
        labels = getattr(self.source, "fault_labels", ())
        labels = tuple(labels() if callable(labels) else labels)
        self.ticks += 1
        self.last_tick_s = time.time()
        if self.gate is not None and not self.gate.should_plan(state):
            self._prev = (state, Action.noop(), labels)
            self.skipped += 1
            return None
        decision = self.controller.decide(state)
        taken = decision.action if decision.executed else Action.noop()
        self._prev = (state, taken, labels)
        self.executed += int(decision.executed)
        return decision

    def flush(self) -> int:
        batch, self._batch = self._batch, []
        if batch and self._on_transitions is not None:
            self._on_transitions(batch)
        return len(batch)

    def close(self) -> None:
        """Close the transitions log (idempotent); the loop takes no more ticks."""
        if self._writer is not None:
            self._writer.close()

    def health(self) -> dict[str, Any]:
        return {
            "ticks": self.ticks,
            "transitions": self.transitions,
            "executed": self.executed,
            "skipped_by_gate": self.skipped,
            "decisions": self.controller.decisions,
            "last_tick_s": self.last_tick_s,
            "guard": self.controller.guard.state(),
        }


def build_loop(
    spec: LoopSpec,
    dispatcher: Dispatcher,
    *,
    on_transitions: Callable[[list[Transition]], None] | None = None,
    registry: Registry | None = None,
) -> ControlLoop:
    """Build the loop named by ``spec`` (components from the registry) around ``dispatcher``."""
    reg = registry or build_registry(allow=spec.plugin_allow)
    graph: ServiceGraph = graph_from_dict(dict(spec.graph), source="<loop spec>")
    source = create_component(reg, "state_source", spec.state_source, graph=graph)
    executor: Executor
    if spec.executor is not None:
        executor = create_component(reg, "executor", spec.executor, graph=graph, source=source)
    elif callable(getattr(source, "executor", None)):
        executor = source.executor()
    else:
        executor = RecordingExecutor()
    audit = AuditLog(spec.audit_log) if spec.audit_log else None
    controller = AutohealController(
        graph, dispatcher, executor, config=spec.controller, audit=audit
    )
    return ControlLoop(
        source,
        controller,
        transitions_log=spec.transitions_log,
        on_transitions=on_transitions,
        ingest_batch=spec.ingest_batch,
    )
