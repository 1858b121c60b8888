"""Labelled simulator data: transitions plus the ground truth the probe and health head need.

Each step of an episode records the transition (as :func:`~aither_wm.sim.scenarios.run_on_simulator`
logs it) and, for its state, the true per-service health (0 healthy, 1 degraded, 2 down; the
simulator's :meth:`~aither_wm.sim.mesh.MeshSimulator.true_health`, which also sees saturation and
resource pressure the observed ``health`` field does not) and whether the entry-point SLO was
violated. Index ``t`` of ``health``/``violated`` belongs to ``transitions[t].state``; index ``T``
to the last next state.

:class:`ExplorePolicy` is a remedy-rich behaviour policy: besides the default policy's random
actions and remedies it tries random action types *on the faulted service*, so the world model
sees the right and the wrong action in the same situation (the contrast a planner needs). It
still waits 82 % of the time, so the data also show faults persisting under no-op (with 37 %
actions per step, 6-step windows of pure waiting were too rare to learn that).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from aither_wm.eval.episodes import Scenario, play
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState, Transition
from aither_wm.sim.config import SimConfig
from aither_wm.sim.mesh import MeshSimulator
from aither_wm.sim.observe import HEALTH_NAMES
from aither_wm.sim.scenarios import BehaviourPolicy

__all__ = ["ExplorePolicy", "LabelledEpisode", "collect", "training_scenarios", "transitions_of"]


@dataclass(frozen=True)
class ExplorePolicy:
    """Data-collection policy (probabilities per step, checked in this order).

    Attributes:
        p_remedy: the active fault's remedy (noop when none is active or it is invalid).
        p_on_target: a random valid action type on an active fault's target.
        p_random: a uniformly random valid non-noop action anywhere.
    """

    p_remedy: float = 0.05
    p_on_target: float = 0.08
    p_random: float = 0.05

    def act(self, sim: MeshSimulator, rng: np.random.Generator) -> Action:
        u = rng.random()
        mask = sim.action_mask()
        faults = sim.active_faults
        if u < self.p_remedy:
            for fault in faults:
                action = fault.remedy_action()
                if mask[sim.action_space.index(action)]:
                    return action
            return Action.noop()
        u -= self.p_remedy
        if u < self.p_on_target and faults:
            n = sim.graph.num_services
            i = sim.graph.index(faults[int(rng.integers(len(faults)))].target)
            ks = [1 + t * n + i for t in range(4) if mask[1 + t * n + i]]
            return sim.action_space.action(ks[int(rng.integers(len(ks)))])
        u -= self.p_on_target
        if u < self.p_random:
            valid = np.flatnonzero(mask[1:]) + 1
            return sim.action_space.action(int(valid[rng.integers(valid.size)]))
        return Action.noop()


@dataclass(frozen=True)
class LabelledEpisode:
    """One episode with ground truth (see the module docstring).

    Attributes:
        transitions: one per step. [T]
        health: true health codes of each state and the final one. [T + 1, N] int8
        violated: the SLO was violated at each state and the final one. [T + 1] bool
        fault: the injected fault's name (None: fault-free).
        scenario: the scenario played.
        target: the fault's target service (None: fault-free).
        availability: the entry points' availability at each state and the final one (over the
            step that led to it). [T + 1] float
    """

    transitions: list[Transition]
    health: np.ndarray
    violated: np.ndarray
    fault: str | None
    scenario: Scenario
    target: str | None = None
    availability: np.ndarray | None = None

    @property
    def slo_cost(self) -> np.ndarray:
        """Each state's SLO cost: violated (0/1) + unavailability. [T + 1] float"""
        avail = self.availability if self.availability is not None else np.ones(len(self.violated))
        return self.violated.astype(float) + (1.0 - avail)


def training_scenarios(
    *,
    seed: int,
    episodes: int,
    steps: int,
    faults: Sequence[str],
    episodes_per_mesh: int = 4,
    params: dict[str, dict[str, float]] | None = None,
) -> list[Scenario]:
    """Episodes for training data: each draws its fault uniformly from ``[None, *faults]`` and
    its onset from ``[steps // 10, steps // 3)``; every ``episodes_per_mesh`` episodes share one
    simulated mesh (its constants: capacities, fan-outs), so the data span many meshes."""
    children = np.random.SeedSequence([seed, 1_000_003]).spawn(2 * episodes + 1)
    ints = [int(c.generate_state(1)[0]) for c in children]
    pick = np.random.default_rng(ints[0])
    options: list[str | None] = [None, *faults]
    out = []
    for e in range(episodes):
        fault = options[int(pick.integers(len(options)))]
        onset = int(pick.integers(steps // 10, max(steps // 3, steps // 10 + 1)))
        mesh_seed = ints[1 + 2 * (e // max(1, episodes_per_mesh))]
        p = dict((params or {}).get(fault or "", {}))
        out.append(Scenario(fault, ints[2 + 2 * e], mesh_seed, steps, onset, p))
    return out


def collect(
    graph: ServiceGraph,
    scenarios: Iterable[Scenario],
    *,
    behaviour: ExplorePolicy | BehaviourPolicy | None = None,
    config: SimConfig | None = None,
) -> list[LabelledEpisode]:
    """Play each scenario under ``behaviour`` (default :class:`ExplorePolicy`) and label it."""
    policy = behaviour or ExplorePolicy()
    return [_collect_one(graph, s, policy, config) for s in scenarios]


def _collect_one(
    graph: ServiceGraph,
    s: Scenario,
    policy: ExplorePolicy | BehaviourPolicy,
    config: SimConfig | None,
) -> LabelledEpisode:
    codes = {name: i for i, name in enumerate(HEALTH_NAMES)}
    sim = MeshSimulator(graph, config, seed=s.mesh_seed)
    rng = np.random.default_rng([s.seed, 11])
    health: list[list[int]] = []
    violated: list[bool] = []
    avail: list[float] = []

    def record() -> None:
        th = sim.true_health()
        health.append([codes[th[name]] for name in graph.services])
        violated.append(bool(sim.last_slo.violated))
        avail.append(float(sim.last_slo.availability))

    def step(state: MeshState, space: ActionSpace) -> Action:
        record()  # the state the policy sees, before its action
        return policy.act(sim, rng)

    ep = play(sim, s, step)
    record()
    return LabelledEpisode(
        transitions=ep.transitions,
        health=np.asarray(health, dtype=np.int8),
        violated=np.asarray(violated, dtype=bool),
        fault=s.fault,
        scenario=s,
        target=ep.fault.target if ep.fault is not None else None,
        availability=np.asarray(avail),
    )


def transitions_of(episodes: Sequence[LabelledEpisode]) -> list[Transition]:
    """Every transition of ``episodes``, in order."""
    return [t for e in episodes for t in e.transitions]
