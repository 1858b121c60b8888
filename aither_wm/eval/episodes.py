"""Episodes under a policy: scenarios, the per-episode policy protocol, and the shared loop.

The demo (``aither_wm.apps.demo``) and the autoheal benchmark run episodes the same way:

>>> from aither_wm.graph import load_graph
>>> g = load_graph("graphs/online-boutique.json")
>>> s = Scenario(fault="cache_down", seed=7, mesh_seed=1, steps=30, onset_step=3)
>>> record = run_scenario(g, s, NoopEpisodePolicy())      # an EpisodeRecord

A :class:`Scenario` fixes everything random about an episode (the mesh's constants, the noise, the
fault's target), so every policy replays the same one. An :class:`EpisodePolicy` is started once
per episode on that episode's simulator and returns the per-step ``(state, space) -> Action``
function :func:`~aither_wm.sim.scenarios.run_on_simulator` calls.

Also here: the pieces the demo and the benchmark share to put a controller or a guarded rule
policy in the loop (:class:`SlotExecutor`, :func:`controller_policy`, :func:`guarded_policy`,
:func:`valid_on`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from aither_wm.control.controller import AutohealController, ControlDecision
from aither_wm.control.guard import GuardConfig, SafetyGuard
from aither_wm.control.policies import Policy as RulePolicy
from aither_wm.errors import ConfigError
from aither_wm.eval.metrics import EpisodeRecord
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.config import SimConfig
from aither_wm.sim.faults import FAULTS, Fault, pick_fault
from aither_wm.sim.mesh import MeshSimulator
from aither_wm.sim.scenarios import Episode, run_on_simulator

__all__ = [
    "EpisodePolicy",
    "NoopEpisodePolicy",
    "Scenario",
    "SlotExecutor",
    "StepPolicy",
    "controller_policy",
    "guarded_policy",
    "make_scenarios",
    "play",
    "run_scenario",
    "valid_on",
]

StepPolicy = Callable[[MeshState, ActionSpace], Action]


@dataclass(frozen=True)
class Scenario:
    """One episode every policy replays.

    Attributes:
        fault: the fault's name, or None for a fault-free episode.
        seed: the episode's seed (simulator noise, the fault's target).
        mesh_seed: the simulated mesh's constants (capacities, fan-outs).
        steps: episode length.
        onset_step: the step the fault is injected at.
        params: fault parameters overriding the defaults (its intensity), e.g.
            ``{"target_rho": 1.4}``.
        replicate: the seed index this scenario belongs to (the unit of confidence intervals).
    """

    fault: str | None
    seed: int
    mesh_seed: int
    steps: int
    onset_step: int = 3
    params: dict[str, float] = field(default_factory=dict)
    replicate: int = 0

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ConfigError(f"unknown fault {self.fault!r}; expected one of {', '.join(FAULTS)}")
        if not 0 <= self.onset_step < self.steps:
            raise ConfigError(f"onset_step must lie in [0, {self.steps}), got {self.onset_step}")
        if self.params and self.fault is None:
            raise ConfigError("fault parameters given for a fault-free scenario")

    def fault_spec(self, graph: ServiceGraph) -> str | Fault | None:
        """What :func:`run_on_simulator` is given: the name (default parameters; it draws the
        target) or a fresh Fault with ``params`` on the very target the name would draw."""
        if self.fault is None or not self.params:
            return self.fault
        # run_on_simulator draws the target from the second child of SeedSequence(seed) when the
        # onset step is given: the same draw here puts the parameterised fault on the same target
        _, episode_seed = np.random.SeedSequence(self.seed).spawn(2)
        base = pick_fault(self.fault, graph, np.random.default_rng(episode_seed))
        try:
            params: dict[str, Any] = dict(self.params)
            return dataclasses.replace(base, **params)
        except TypeError as e:
            raise ConfigError(f"{self.fault}: bad parameters {sorted(self.params)} ({e})") from None


def make_scenarios(
    *,
    seed: int,
    seeds: int,
    faults: Sequence[str | None],
    steps: int,
    episodes: int = 1,
    onset_step: int = 3,
    params: dict[str, dict[str, float]] | None = None,
) -> list[Scenario]:
    """``episodes`` scenarios per fault (None: fault-free) for each of ``seeds`` replicates.

    Replicate ``r`` has its own mesh (its constants drawn from ``(seed, r)``) and its own episode
    seeds, so replicates are independent and the intervals over them are honest.
    """
    if seeds < 1 or episodes < 1:
        raise ConfigError(f"seeds and episodes must be >= 1, got {seeds} and {episodes}")
    out = []
    for r in range(seeds):
        children = np.random.SeedSequence([seed, r]).spawn(1 + len(faults) * episodes)
        ints = [int(c.generate_state(1)[0]) for c in children]
        mesh_seed, k = ints[0], 1
        for fault in faults:
            for _ in range(episodes):
                p = dict((params or {}).get(fault or "", {}))
                out.append(Scenario(fault, ints[k], mesh_seed, steps, onset_step, p, r))
                k += 1
    return out


class EpisodePolicy(Protocol):
    """A policy started afresh for each episode on that episode's simulator."""

    name: str

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        """The per-step function for one episode (``seed``: the scenario's seed)."""
        ...


class NoopEpisodePolicy:
    """Never acts."""

    name = "noop"

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        return lambda state, space: Action.noop()


# --- controllers and guarded rules in the loop (shared with the demo) -------------------------


class SlotExecutor:
    """Holds the action the controller executed this step; the episode loop applies it."""

    def __init__(self) -> None:
        self.action: Action | None = None

    def execute(self, action: Action) -> None:
        self.action = action


def valid_on(sim: MeshSimulator, action: Action) -> Action:
    """The action if the platform accepts it now, else a no-op (what a real platform refuses)."""
    return action if sim.action_mask()[sim.action_space.index(action)] else Action.noop()


def controller_policy(
    ctl: AutohealController,
    slot: SlotExecutor,
    sim: MeshSimulator,
    log: list[ControlDecision] | None = None,
) -> StepPolicy:
    """Each step: the controller decides (and executes into ``slot``); the slot's action is
    played. Decisions are appended to ``log``."""

    def policy(state: MeshState, space: ActionSpace) -> Action:
        slot.action = None
        decision = ctl.decide(state)
        if log is not None:
            log.append(decision)
        if decision.executed and slot.action is not None:
            return valid_on(sim, slot.action)
        return Action.noop()

    return policy


def guarded_policy(
    rules: RulePolicy, graph: ServiceGraph, guard_config: GuardConfig, sim: MeshSimulator
) -> StepPolicy:
    """A rule-based policy behind a fresh safety guard (the reactive baseline)."""
    guard = SafetyGuard(guard_config, num_services=graph.num_services)

    def policy(state: MeshState, space: ActionSpace) -> Action:
        action = rules.decide(graph, state)
        return valid_on(sim, action) if guard.admit(action, state.step).allowed else Action.noop()

    return policy


# --- the loop -----------------------------------------------------------------------------------


def play(sim: MeshSimulator, scenario: Scenario, policy: StepPolicy | None) -> Episode:
    """Run ``scenario`` on ``sim`` (reset by it) under ``policy`` (None: the behaviour policy)."""
    return run_on_simulator(
        sim,
        seed=scenario.seed,
        fault=scenario.fault_spec(sim.graph),
        steps=scenario.steps,
        policy=policy,
        onset_step=scenario.onset_step,
    )


def run_scenario(
    graph: ServiceGraph,
    scenario: Scenario,
    policy: EpisodePolicy,
    *,
    config: SimConfig | None = None,
) -> EpisodeRecord:
    """Play ``scenario`` on a fresh simulator under ``policy``; the step-by-step record."""
    sim = MeshSimulator(graph, config, seed=scenario.mesh_seed)
    step_fn = policy.start(sim, seed=scenario.seed)
    times: list[float] = []

    def timed(state: MeshState, space: ActionSpace) -> Action:
        t = time.perf_counter()
        action = step_fn(state, space)
        times.append((time.perf_counter() - t) * 1e3)
        return action

    ep = play(sim, scenario, timed)
    fault = ep.fault
    return EpisodeRecord(
        policy=policy.name,
        fault=scenario.fault,
        target=fault.target if fault is not None else None,
        replicate=scenario.replicate,
        onset_step=ep.onset_step,
        step_seconds=sim.config.step_seconds,
        violated=tuple(s.violated for s in ep.slo),
        availability=tuple(float(s.availability) for s in ep.slo),
        effects=tuple(ep.effects),
        actions=tuple(str(t.action) for t in ep.transitions),
        decision_ms=tuple(times),
        params=dict(scenario.params),
        graph=graph.name,
    )


def describe(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain values (for reports)."""
    return dataclasses.asdict(scenario)
