"""Counterfactual branches: what every candidate action would truly have done, on simulator clones.

At a state of a simulated episode, :func:`branch_state` clones the simulator (state, faults and
random generator: every branch sees exactly the noise the episode would), plays each candidate
action, then continues for ``horizon - 1`` more steps with each base policy (by default no-op
and the reactive runbook) and keeps the cheaper continuation::

    Q(s, a) = c[a] + min over bases  sum_{h=1..horizon} [slo_cost(s_h) + c[base action at h > 1]]
    slo_cost(s) = [SLO violated over the step that led to s] + (1 - availability over it)

with both bases, the oracle's cost (:func:`aither_wm.eval.oracle.oracle_cost`). With the no-op
base alone, ``Q`` is the cost if nothing more is done after ``a``: the control model learns this
one (:mod:`aither_wm.bench.control_model` says why). Candidates are chosen so that the data show what does NOT
work as often as what does (the training data of the behaviour policy hide that: almost every
action on an unhealthy-looking service there hits the true culprit): no-op, the runbook's action,
every valid type on the services the fault acts on, every valid type on up to
``symptomatic`` services that look broken but are not the culprit (its callers, mostly), and one
random valid action on each of ``healthy`` services that look fine.

The same branches are the training targets of the control model (:mod:`.control_fit`: its value
head learns ``Q - c[a]`` from the state after ``a``) and the answer key of the decision exam
(:mod:`aither_wm.bench.decisions`).

Glossary: C candidates of one state, T horizon (steps), N services.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.data import ExplorePolicy
from aither_wm.eval.episodes import Scenario, play
from aither_wm.eval.oracle import continuation_cost
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.mesh import MeshSimulator, StepResult

__all__ = [
    "Behaviour",
    "BranchSet",
    "RunbookExplore",
    "branch_candidates",
    "branch_episodes",
    "branch_state",
    "slo_cost",
]

_RUNBOOK = ReactivePolicy()


class Behaviour(Protocol):
    """A branch episode's behaviour policy (picklable, for worker processes)."""

    def act(self, sim: MeshSimulator, rng: np.random.Generator) -> Action: ...


def slo_cost(result: StepResult) -> float:
    """One step's SLO cost: violated (0/1) plus the entry points' unavailability."""
    return float(result.slo.violated) + (1.0 - float(result.slo.availability))


@dataclass(frozen=True)
class BranchSet:
    """Every candidate's true outcome at one state.

    Attributes:
        state: the state the candidates start from.
        step: its step in the episode.
        fault: the active fault's name (None: no fault active).
        acts_on: the services an action must target to act on the fault.
        actions: flat indices of the candidates, no-op first. [C] int64
        q: true cost over the horizon, the cheaper base continuation. [C] float64
        action_cost: each candidate's own action cost. [C] float64
        first_cost: SLO cost of the first step (the state right after the candidate). [C]
        next_states: the state right after each candidate. [C]
        effects: the simulator's ground truth of each candidate ("fixes", "no_effect", ...). [C]
        horizon: T.
    """

    state: MeshState
    step: int
    fault: str | None
    acts_on: tuple[str, ...]
    actions: np.ndarray
    q: np.ndarray
    action_cost: np.ndarray
    first_cost: np.ndarray
    next_states: tuple[MeshState, ...]
    effects: tuple[str, ...]
    horizon: int

    @property
    def value(self) -> np.ndarray:
        """Cost from the state after each candidate on: ``q - action_cost``. [C]"""
        return self.q - self.action_cost

    @property
    def best(self) -> int:
        """Row of the truly best candidate (ties: the first, so no-op wins ties)."""
        return int(np.argmin(self.q))


def branch_state(
    sim: MeshSimulator,
    candidates: Sequence[int],
    *,
    horizon: int = 8,
    bases: Sequence[ReactivePolicy | None] = (None, _RUNBOOK),
    step: int = 0,
) -> BranchSet:
    """Branch every candidate (flat indices, valid now) from ``sim``'s current state (unchanged)."""
    space = sim.action_space
    state = sim.observe()
    q, ac, first, nxt, eff = [], [], [], [], []
    for k in candidates:
        action = space.action(int(k))
        c0 = sim.clone()
        r1 = c0.step(action)
        a_cost = sim.config.action_cost(action.type.value)
        head = a_cost + slo_cost(r1)
        tails = []
        for i, base in enumerate(bases):
            c = c0 if i == len(bases) - 1 else c0.clone()
            tails.append(continuation_cost(c, horizon - 1, base, r1.state))
        q.append(head + min(tails))
        ac.append(a_cost)
        first.append(slo_cost(r1))
        nxt.append(r1.state)
        eff.append(r1.effect)
    faults = sim.active_faults
    return BranchSet(
        state=state,
        step=step,
        fault=faults[0].name if faults else None,
        acts_on=tuple(sorted({s for f in faults for s in f.acts_on})),
        actions=np.asarray(candidates, dtype=np.int64),
        q=np.asarray(q),
        action_cost=np.asarray(ac),
        first_cost=np.asarray(first),
        next_states=tuple(nxt),
        effects=tuple(eff),
        horizon=horizon,
    )


def branch_candidates(
    sim: MeshSimulator,
    rng: np.random.Generator,
    *,
    symptomatic: int = 2,
    healthy: int = 2,
    every_action: bool = False,
) -> list[int]:
    """Candidate flat actions at ``sim``'s state (see the module docstring); no-op first.

    ``every_action``: every valid action instead (the decision exam's full ranking).
    """
    mask = sim.action_mask()
    if every_action:
        return [0, *(int(k) for k in np.flatnonzero(mask[1:]) + 1)]
    space, graph = sim.action_space, sim.graph
    n = graph.num_services
    state = sim.observe()
    out: list[int] = [0]

    def add_all(service: str) -> None:
        i = graph.index(service)
        out.extend(1 + t * n + i for t in range(4) if mask[1 + t * n + i])

    runbook = _RUNBOOK.decide(graph, state)
    if mask[space.index(runbook)]:
        out.append(space.index(runbook))
    culprits = sorted({s for f in sim.active_faults for s in f.acts_on}, key=graph.index)
    for s in culprits:
        add_all(s)
    broken = [a.target for _, _, a in _RUNBOOK.candidates(graph, state) if a.target not in culprits]
    for s in list(dict.fromkeys(broken))[:symptomatic]:
        add_all(s)
    fine = [s for s in graph.services if s not in culprits and s not in broken]
    for j in rng.permutation(len(fine))[:healthy]:
        i = graph.index(fine[int(j)])
        ks = [1 + t * n + i for t in range(4) if mask[1 + t * n + i]]
        out.append(ks[int(rng.integers(len(ks)))])
    return list(dict.fromkeys(int(k) for k in out))


@dataclass(frozen=True)
class RunbookExplore:
    """Behaviour policy of branch episodes: the runbook's action with probability ``p_runbook``
    when it proposes one (a mesh healed as the rules heal it: the states a good controller
    visits), else :class:`~aither_wm.eval.data.ExplorePolicy` (waiting faults, random actions)."""

    p_runbook: float = 0.5
    explore: ExplorePolicy = field(default_factory=ExplorePolicy)

    def act(self, sim: MeshSimulator, rng: np.random.Generator) -> Action:
        if rng.random() < self.p_runbook:
            a = _RUNBOOK.decide(sim.graph, sim.observe())
            if a.type.value != "noop" and sim.action_mask()[sim.action_space.index(a)]:
                return a
        return self.explore.act(sim, rng)


def _episode_branches(
    graph: ServiceGraph,
    scenario: Scenario,
    behaviour: Behaviour | None,
    every: int,
    horizon: int,
    fault_free_states: int,
    every_action: bool,
    bases: Sequence[ReactivePolicy | None],
    healthy_every: int = 0,
) -> list[BranchSet]:
    """Play ``scenario`` under ``behaviour`` (None: the runbook, unguarded); branch at every
    ``every``-th step from the fault's onset while the fault is active, and at every
    ``healthy_every``-th step while none is (before the onset and after a fix; 0: never);
    fault-free episodes: ``fault_free_states`` random steps. Stops ``horizon`` steps before
    the end."""
    sim = MeshSimulator(graph, seed=scenario.mesh_seed)
    rng = np.random.default_rng([scenario.seed, 23])
    last = scenario.steps - 1
    healthy: set[int] = set()
    if scenario.fault is None:
        picks = set(rng.choice(np.arange(1, last), size=fault_free_states, replace=False).tolist())
    else:
        picks = set(range(scenario.onset_step, last, every))
        if healthy_every > 0:
            healthy = set(range(1, last, healthy_every))
    out: list[BranchSet] = []
    t = 0

    def step_fn(state: MeshState, space: ActionSpace) -> Action:
        nonlocal t
        if scenario.fault is None:
            pick = t in picks
        else:
            pick = t in picks if sim.active_faults else t in healthy
        if pick:
            cands = branch_candidates(sim, rng, every_action=every_action)
            out.append(branch_state(sim, cands, horizon=horizon, bases=bases, step=t))
        t += 1
        if behaviour is None:
            a = _RUNBOOK.decide(graph, state)
            return a if sim.action_mask()[space.index(a)] else Action.noop()
        return behaviour.act(sim, rng)

    play(sim, scenario, step_fn)
    return out


_DEFAULT_BEHAVIOUR = RunbookExplore()


def branch_episodes(
    graph: ServiceGraph,
    scenarios: Iterable[Scenario],
    *,
    behaviour: Behaviour | None = _DEFAULT_BEHAVIOUR,
    every: int = 2,
    horizon: int = 8,
    fault_free_states: int = 2,
    every_action: bool = False,
    bases: Sequence[ReactivePolicy | None] = (None, _RUNBOOK),
    healthy_every: int = 0,
    workers: int = 1,
) -> list[BranchSet]:
    """Branch sets of every scenario (see :func:`_episode_branches`), in scenario order.

    ``healthy_every``: in faulted episodes, also branch every this many steps while no fault
    is active (before the onset; after a fix, while the mesh recovers): the states where acting
    gains nothing, which a controller that decides every step visits most.

    ``bases``: the continuations after each candidate (None: no-ops), the cheaper one counts
    (:func:`branch_state`). ``workers`` > 1 plays scenarios in that many processes (the simulator
    is numpy; results are the same as with one, scenario by scenario).
    """
    args = [
        (
            graph,
            s,
            behaviour,
            every,
            horizon,
            fault_free_states,
            every_action,
            tuple(bases),
            healthy_every,
        )
        for s in scenarios
    ]
    if workers <= 1 or len(args) < 2:
        return [b for a in args for b in _episode_branches(*a)]
    import multiprocessing as mp

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        parts = list(pool.map(_star, args, chunksize=max(1, len(args) // (4 * workers))))
    return [b for p in parts for b in p]


def _star(a: tuple) -> list[BranchSet]:  # type: ignore[type-arg]
    return _episode_branches(*a)
