"""The fault protocol every library fault implements, and target selection by service kind.

A fault is a small stateful object bound to one simulator. Its life cycle:

``bind`` (at injection: a release bump, a killed pod...) -> every step ``tick`` (writes this step's
:class:`~aither_wm.sim.dynamics.Modifiers` or ramps a resource) -> ``on_action`` (an action may
remove its cause) -> ``after_step`` (it may heal or expire). ``is_active`` says whether its cause
is still present (its label is reported); ``is_symptomatic`` whether its target shows it now.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from aither_wm.errors import ConfigError
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType
from aither_wm.sim.faults.remedies import REMEDIES, Effect

if TYPE_CHECKING:
    from aither_wm.sim.dynamics import Modifiers
    from aither_wm.sim.mesh import MeshSimulator

__all__ = ["Fault", "candidate_targets"]


@dataclass(eq=False)
class Fault:
    """Base class of the fault library (see :data:`aither_wm.sim.faults.FAULTS`).

    Attributes:
        target: the service the fault hits.
        index: the target's position in graph order (set by ``bind``).
        onset_step: simulator step at injection (set by ``bind``).
        is_active: the fault's cause is present; cleared faults drop out of ``active_faults``.
    """

    name: ClassVar[str] = ""
    #: Target kinds, all equally good (fallback: any service; see candidate_targets).
    kinds: ClassVar[tuple[str, ...]] = ("service", "gateway", "frontend")
    #: The fault only makes sense on a service somebody calls.
    needs_caller: ClassVar[bool] = False

    target: str
    index: int = field(init=False, default=-1)
    onset_step: int = field(init=False, default=-1)
    is_active: bool = field(init=False, default=True)

    def _check(self, **bounds: tuple[float, float]) -> None:
        """Refuse a parameter outside its (low, high) bounds, naming the fault and the field."""
        for key, (low, high) in bounds.items():
            value = getattr(self, key)
            if value is not None and not low <= value <= high:
                raise ConfigError(f"{self.name}: {key} must lie in [{low}, {high}], got {value!r}")

    # -- life cycle -------------------------------------------------------------------------
    def bind(self, sim: MeshSimulator) -> None:
        """Attach to ``sim`` at its current step (GraphError if the target is unknown)."""
        self.index = sim.graph.index(self.target)
        self.onset_step = sim.step_count
        self.on_inject(sim)

    def on_inject(self, sim: MeshSimulator) -> None:
        """What happens at the moment of injection."""

    def tick(self, sim: MeshSimulator, mods: Modifiers) -> None:
        """This step's effect, before the physics runs."""

    def on_action(self, action: Action, sim: MeshSimulator) -> None:
        """React to an action just applied (e.g. a rollback removes a bad release)."""

    def after_step(self, sim: MeshSimulator) -> None:
        """After the physics: heal, expire or persist."""

    def is_symptomatic(self, sim: MeshSimulator) -> bool:
        """The target shows the fault now (default: while its cause is present)."""
        return self.is_active

    # -- ground truth -----------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The label reported in StepResult.faults and Transition.faults (the fault's name)."""
        return self.name

    @property
    def acts_on(self) -> frozenset[str]:
        """Services an action must target to act on this fault."""
        return frozenset({self.target})

    def steps_since_onset(self, sim: MeshSimulator) -> int:
        return sim.step_count - self.onset_step

    def effect_of(self, action: Action) -> Effect:
        """Ground-truth effect of ``action`` on this fault (the remedy table, by target)."""
        if action.type is ActionType.noop:
            return "noop"
        if action.target in self.acts_on:
            return REMEDIES[self.name].effect(action.type)
        return "no_effect"

    def remedy_action(self) -> Action:
        """The action an oracle takes for this fault (noop where waiting is the remedy)."""
        kind = REMEDIES[self.name].remedy
        return Action.noop() if kind is ActionType.noop else Action(type=kind, target=self.target)

    def params(self) -> dict[str, Any]:
        """The fault's parameters (constructor arguments), JSON-able."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def describe(self) -> dict[str, Any]:
        return {"fault": self.name, "onset_step": self.onset_step, **self.params()}

    # -- helpers for subclasses -------------------------------------------------------------
    def _new_release(self, sim: MeshSimulator) -> int:
        """Roll out a new release on the target; rollback becomes valid. Returns its version."""
        dyn = sim.dyn
        dyn.prev_version[self.index] = dyn.version[self.index]
        dyn.version[self.index] += 1
        return int(dyn.version[self.index])


def candidate_targets(cls: type[Fault], graph: ServiceGraph) -> list[str]:
    """Sensible targets for ``cls`` on ``graph`` (in graph order, grouped by kind).

    The first non-empty pool wins: services of the fault's ``kinds`` that entry-point traffic
    reaches (with a caller when ``needs_caller``); else any service meeting those conditions
    (e.g. cache_down on a graph without caches hits a called service); else services of the
    fault's kinds however placed; else every service.
    """
    depth = graph.depths()
    g = graph.digraph

    def ok(s: str) -> bool:
        return np.isfinite(depth[s]) and (not cls.needs_caller or g.in_degree(s) > 0)

    for pool in (
        [s for k in cls.kinds for s in graph.services if graph.kind(s) == k and ok(s)],
        [s for s in graph.services if ok(s)],
        [s for k in cls.kinds for s in graph.services if graph.kind(s) == k],
    ):
        if pool:
            return pool
    return list(graph.services)
