"""Typed mesh state, actions and transitions (pydantic, frozen, unknown keys refused).

Units are in the field names. Every numeric field must be finite; NaN, infinities, negative and
out-of-range values are refused with a message naming the field. A :class:`MeshState` is checked
against its graph with :meth:`MeshState.check_graph` (unknown or missing services are refused).
"""

from __future__ import annotations

import math
from enum import Enum
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aither_wm.errors import StateError

if TYPE_CHECKING:
    from aither_wm.graph.schema import ServiceGraph

__all__ = [
    "SCHEMA_VERSION",
    "Action",
    "ActionType",
    "Health",
    "MeshState",
    "ServiceState",
    "Transition",
    "healthy_version",
    "nominal_service_state",
    "parse_state",
]

#: Version of the transition schema written to the transitions log.
SCHEMA_VERSION = 1

Health = Literal["healthy", "degraded", "down"]


class ActionType(str, Enum):
    """Remediation action types. ``noop`` takes no target; every other type takes one service."""

    noop = "noop"
    restart = "restart"
    scale_out = "scale_out"
    scale_in = "scale_in"
    rollback = "rollback"


_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ServiceState(BaseModel):
    """Observed state of one service at one step."""

    model_config = _STRICT

    cpu_util: float = Field(ge=0.0, le=1.0)
    """CPU use as a fraction of the service's CPU limit, summed over replicas / replicas."""
    memory_util: float = Field(ge=0.0, le=1.0)
    """Resident memory as a fraction of the limit (1.0 = OOM kill)."""
    gpu_memory_util: float = Field(default=0.0, ge=0.0, le=1.0)
    """GPU memory as a fraction of the device's memory (0 for CPU-only services)."""
    disk_util: float = Field(default=0.0, ge=0.0, le=1.0)
    """Disk use as a fraction of the volume."""
    latency_p50_ms: float = Field(ge=0.0, le=1e7)
    """Median request latency in milliseconds."""
    latency_p99_ms: float = Field(ge=0.0, le=1e7)
    """99th percentile request latency in milliseconds (>= p50)."""
    error_rate: float = Field(ge=0.0, le=1.0)
    """Fraction of requests that failed."""
    request_rate_rps: float = Field(ge=0.0, le=1e9)
    """Requests per second arriving at the service."""
    replicas: int = Field(ge=0, le=10_000)
    """Running replicas (0 while the service is down)."""
    health: Health = "healthy"
    """Health-check verdict: healthy, degraded, or down."""
    version: int = Field(default=1, ge=0)
    """Deployed release number."""
    previous_version: int | None = Field(default=None, ge=0)
    """Release a rollback would return to; None when there is none (rollback is invalid)."""

    @model_validator(mode="after")
    def _p99_above_p50(self) -> ServiceState:
        if self.latency_p99_ms < self.latency_p50_ms:
            raise ValueError(
                f"latency_p99_ms ({self.latency_p99_ms}) must be >= latency_p50_ms "
                f"({self.latency_p50_ms})"
            )
        return self


def nominal_service_state(replicas: int = 2, version: int = 1) -> ServiceState:
    """A healthy, lightly loaded service: the reference point of goal states."""
    return ServiceState(
        cpu_util=0.3, memory_util=0.4, gpu_memory_util=0.0, disk_util=0.3,
        latency_p50_ms=20.0, latency_p99_ms=60.0, error_rate=0.0, request_rate_rps=50.0,
        replicas=replicas, health="healthy", version=version, previous_version=None,
    )  # fmt: skip


class MeshState(BaseModel):
    """State of every service of one graph at one step."""

    model_config = _STRICT

    graph: str = Field(min_length=1)
    """Name of the graph this state belongs to."""
    step: int = Field(default=0, ge=0)
    """Simulation or observation step number."""
    services: dict[str, ServiceState]
    """Per-service state, keyed by service name; must cover the graph's services exactly."""

    @field_validator("services")
    @classmethod
    def _non_empty(cls, v: dict[str, ServiceState]) -> dict[str, ServiceState]:
        if not v:
            raise ValueError("a mesh state needs at least one service")
        return v

    def check_graph(self, graph: ServiceGraph) -> MeshState:
        """Check the state belongs to ``graph``; returns self.

        Raises:
            StateError: another graph's name, unknown services, or services missing.
        """
        if self.graph != graph.name:
            raise StateError(f"state is for graph {self.graph!r}, expected {graph.name!r}")
        known = set(graph.services)
        unknown = sorted(set(self.services) - known)
        if unknown:
            raise StateError(f"state names services not in graph {graph.name!r}: {unknown[:5]}")
        missing = [s for s in graph.services if s not in self.services]
        if missing:
            raise StateError(f"state lacks services of graph {graph.name!r}: {missing[:5]}")
        foreign = [n for n, s in self.services.items() if not isinstance(s, ServiceState)]
        if foreign:  # only a state built without validation (model_construct) can get here
            kind = type(self.services[foreign[0]]).__name__
            raise StateError(f"services {foreign[:5]} hold a {kind}, expected a ServiceState")
        return self


def healthy_version(state: MeshState) -> MeshState:
    """The goal state for planning: same topology and replicas, nominal metrics, all healthy.

    Keeps each service's replica count (clamped to >= 1) and deployed version so the goal differs
    from the current state only in what a remedy should change.
    """
    services = {
        name: nominal_service_state(replicas=max(1, s.replicas), version=s.version).model_copy(
            update={"previous_version": s.previous_version}
        )
        for name, s in state.services.items()
    }
    return MeshState(graph=state.graph, step=state.step, services=services)


class Action(BaseModel):
    """A remediation action: a type and, for all types but no-op, one target service."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ActionType
    """What to do."""
    target: str | None = None
    """Service to act on; must be None for no-op and a service name otherwise."""

    @model_validator(mode="after")
    def _target_matches_type(self) -> Action:
        if self.type is ActionType.noop and self.target is not None:
            raise ValueError("a noop action takes no target")
        if self.type is not ActionType.noop and not self.target:
            raise ValueError(f"a {self.type.value} action needs a target service")
        return self

    def __str__(self) -> str:
        return self.type.value if self.target is None else f"{self.type.value}({self.target})"

    @classmethod
    def noop(cls) -> Action:
        return cls(type=ActionType.noop)


class Transition(BaseModel):
    """One logged step: state, action taken, next state. A line of the transitions log."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: int = SCHEMA_VERSION
    """Version of this schema; readers refuse versions they do not know."""
    graph: str = Field(min_length=1)
    """Name of the graph the states belong to."""
    state: MeshState
    action: Action
    next_state: MeshState
    timestamp: float = Field(ge=0.0)
    """Unix time of the step, seconds."""
    faults: list[str] = Field(default_factory=list)
    """Ground-truth labels of the faults active during this step (simulator only; else empty)."""

    @model_validator(mode="after")
    def _consistent(self) -> Transition:
        if self.schema_version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {self.schema_version} is not supported (expected {SCHEMA_VERSION})"
            )
        for which, st in (("state", self.state), ("next_state", self.next_state)):
            if st.graph != self.graph:
                raise ValueError(
                    f"{which}.graph is {st.graph!r}, transition graph is {self.graph!r}"
                )
        if set(self.state.services) != set(self.next_state.services):
            raise ValueError("state and next_state cover different services")
        if self.action.target is not None and self.action.target not in self.state.services:
            raise ValueError(f"action targets unknown service {self.action.target!r}")
        if not math.isfinite(self.timestamp):
            raise ValueError("timestamp must be finite")
        return self


def parse_state(data: object, graph: ServiceGraph | None = None) -> MeshState:
    """Validate a parsed JSON object as a MeshState (and against ``graph`` when given).

    Raises:
        StateError: with the first offending field path, e.g. ``services.redis.cpu_util``.
    """
    try:
        state = MeshState.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise StateError(
            f"invalid mesh state at {loc}: {err['msg']} (got {err.get('input')!r:.80})"
        ) from None
    if graph is not None:
        state.check_graph(graph)
    return state
