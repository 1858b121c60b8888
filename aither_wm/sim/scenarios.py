"""Episodes: a fault (or none) injected at an onset step, a policy acting, transitions logged.

>>> from aither_wm.graph import load_graph
>>> g = load_graph("graphs/online-boutique.json")
>>> transitions = run_episode(g, seed=3, fault="cache_down", steps=40)

Determinism: one integer seed fixes the episode (the simulator's stream, the fault's target and
onset, the behaviour policy's draws, and the timestamps ``EPOCH_S + step * step_seconds``), so
the same call writes the same bytes. ``Transition.faults`` holds the ground-truth labels of the
faults active during the step (a fault injected at step t is labelled from transition t on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aither_wm.errors import ConfigError
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import Action, MeshState, Transition
from aither_wm.sim.config import SimConfig
from aither_wm.sim.faults import FAULT_NAMES, Fault, pick_fault
from aither_wm.sim.mesh import MeshSimulator
from aither_wm.sim.slo import SLOStatus

__all__ = [
    "EPOCH_S",
    "BehaviourPolicy",
    "Episode",
    "Policy",
    "episode_seeds",
    "generate_transitions",
    "iter_episodes",
    "run_episode",
    "run_on_simulator",
]

#: Timestamp of step 0 of the first episode (2023-11-14T22:13:20Z): logs do not depend on "now".
EPOCH_S = 1_700_000_000.0

Policy = Callable[[MeshState, ActionSpace], Action]


@dataclass(frozen=True)
class BehaviourPolicy:
    """The default data-collection policy: mostly no-op, some random valid actions, and now and
    then the true remedy of the active fault, so a world model sees what actions do.

    Attributes:
        p_random: probability of a uniformly random valid non-noop action.
        p_remedy: probability of the active fault's remedy (noop when no fault is active).
    """

    p_random: float = 0.14
    p_remedy: float = 0.06

    def act(self, sim: MeshSimulator, rng: np.random.Generator) -> Action:
        u = rng.random()
        if u < self.p_remedy:
            for fault in sim.active_faults:
                action = fault.remedy_action()
                if sim.action_mask()[sim.action_space.index(action)]:
                    return action
            return Action.noop()
        if u < self.p_remedy + self.p_random:
            valid = np.flatnonzero(sim.action_mask()[1:]) + 1
            return sim.action_space.action(int(valid[rng.integers(valid.size)]))
        return Action.noop()


@dataclass
class Episode:
    """One simulated episode.

    Attributes:
        transitions: one per step.
        fault: the injected fault (None for a fault-free episode).
        onset_step: step at which it was injected (None without a fault).
        slo: SLO status of each step.
        effects: ground-truth effect of each step's action.
        rewards: reward of each step.
    """

    transitions: list[Transition] = field(default_factory=list)
    fault: Fault | None = None
    onset_step: int | None = None
    slo: list[SLOStatus] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)


def _check_fault(fault: str | None) -> None:
    if fault is not None and fault not in FAULT_NAMES:
        raise ConfigError(f"unknown fault {fault!r}; expected one of {', '.join(FAULT_NAMES)}")


def run_on_simulator(
    sim: MeshSimulator,
    *,
    seed: int,
    fault: str | Fault | None,
    steps: int,
    policy: Policy | None = None,
    onset_step: int | None = None,
    start_time: float = EPOCH_S,
) -> Episode:
    """Reset ``sim`` with ``seed``, inject ``fault`` at ``onset_step``, run ``steps`` steps.

    Args:
        fault: a fault name (target drawn by kind), a ready Fault, or None.
        policy: ``(state, action_space) -> Action``; None: :class:`BehaviourPolicy`.
        onset_step: None draws it in [steps // 10, steps // 3].
    """
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}")
    if isinstance(fault, str) or fault is None:
        _check_fault(fault)
    sim_seed, episode_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(episode_seed)
    state = sim.reset(seed=int(sim_seed.generate_state(1)[0]))
    if onset_step is None:
        low = steps // 10
        onset_step = int(rng.integers(low, max(steps // 3, low + 1)))
    chosen = pick_fault(fault, sim.graph, rng) if isinstance(fault, str) else fault
    behaviour = BehaviourPolicy()
    episode = Episode(fault=chosen, onset_step=onset_step if chosen is not None else None)
    step_s = sim.config.step_seconds
    for t in range(steps):
        if chosen is not None and t == onset_step:
            sim.inject(chosen)
        labels = list(sim.fault_labels)
        action = policy(state, sim.action_space) if policy is not None else behaviour.act(sim, rng)
        result = sim.step(action)
        episode.transitions.append(
            Transition(
                graph=sim.graph.name,
                state=state,
                action=action,
                next_state=result.state,
                timestamp=start_time + t * step_s,
                faults=labels,
            )
        )
        episode.slo.append(result.slo)
        episode.effects.append(result.effect)
        episode.rewards.append(result.reward)
        state = result.state
    return episode


def run_episode(
    graph: ServiceGraph | str | Path,
    *,
    seed: int,
    fault: str | None,
    steps: int,
    policy: Policy | None = None,
    onset_step: int | None = None,
    config: SimConfig | None = None,
    mesh_seed: int = 0,
    start_time: float = EPOCH_S,
) -> list[Transition]:
    """Transitions of one episode on a fresh simulator of ``graph`` (constants from
    ``mesh_seed``); see :func:`run_on_simulator` for the other arguments."""
    g = graph if isinstance(graph, ServiceGraph) else load_graph(graph)
    sim = MeshSimulator(g, config, seed=mesh_seed)
    return run_on_simulator(
        sim, seed=seed, fault=fault, steps=steps, policy=policy, onset_step=onset_step,
        start_time=start_time,
    ).transitions  # fmt: skip


def episode_seeds(seed: int, episodes: int) -> tuple[int, int, list[int]]:
    """The mesh seed, the seed of the fault draws, and one seed per episode, from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(episodes + 2)
    ints = [int(c.generate_state(1)[0]) for c in children]
    return ints[0], ints[1], ints[2:]


def iter_episodes(
    graph: ServiceGraph | str | Path,
    *,
    episodes: int,
    steps: int | Sequence[int],
    seed: int,
    faults: Sequence[str] | None = None,
    config: SimConfig | None = None,
    policy: Policy | None = None,
) -> Iterator[Episode]:
    """Episodes on one simulated mesh; each draws its fault from ``[None, *faults]``.

    Args:
        steps: steps per episode, or one length per episode.
        faults: fault names to draw from (None: every fault); ``[]`` gives fault-free episodes.
    """
    g = graph if isinstance(graph, ServiceGraph) else load_graph(graph)
    names = list(FAULT_NAMES if faults is None else faults)
    for name in names:
        _check_fault(name)
    lengths = [steps] * episodes if isinstance(steps, int) else list(steps)
    if len(lengths) != episodes:
        raise ConfigError(f"got {len(lengths)} episode lengths for {episodes} episodes")
    mesh_seed, pick_seed, seeds = episode_seeds(seed, episodes)
    sim = MeshSimulator(g, config, seed=mesh_seed)
    pick = np.random.default_rng(pick_seed)
    options: list[str | None] = [None, *names]
    start = EPOCH_S
    for e in range(episodes):
        fault = options[int(pick.integers(len(options)))]
        yield run_on_simulator(
            sim, seed=seeds[e], fault=fault, steps=lengths[e], policy=policy, start_time=start
        )
        start += lengths[e] * sim.config.step_seconds


def generate_transitions(
    graph: ServiceGraph | str | Path,
    *,
    episodes: int,
    steps: int,
    seed: int,
    faults: list[str] | None = None,
    config: SimConfig | None = None,
    policy: Policy | None = None,
) -> Iterator[Transition]:
    """Transitions of :func:`iter_episodes`, episode after episode (timestamps keep rising)."""
    for episode in iter_episodes(
        graph, episodes=episodes, steps=steps, seed=seed, faults=faults, config=config,
        policy=policy,
    ):  # fmt: skip
        yield from episode.transitions


def __getattr__(name: str) -> Any:
    """``simulate_to_file`` lives in :mod:`aither_wm.sim.cli_support` (it writes the log); it is
    importable from here too, lazily, so this module does not import the data layer."""
    if name == "simulate_to_file":
        from aither_wm.sim.cli_support import simulate_to_file

        return simulate_to_file
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
