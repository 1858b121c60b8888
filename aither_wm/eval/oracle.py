"""The oracle: model-predictive control with the true simulator as the model (an upper bound).

Each step it clones the simulator (state, faults and random generator: the clone sees exactly
the noise the real episode will see), plays each candidate action followed, for ``horizon``
steps in all, by each base policy (no-op, and the reactive runbook), and keeps the action with
the lowest cost over its best continuation::

    cost = sum_h [SLO violated at h] + sum_h (1 - availability at h) + sum of action costs

A rollout on the reactive runbook is the classic rollout algorithm: the oracle is then at least
as good as the runbook over the horizon (one scale-out may not absorb a strong spike; the runbook
keeps scaling, a no-op continuation would not see it pay off).

Ties go to no-op (evaluated first; another action must be better by more than ``tie_margin``).
Candidates: every valid action on a service that an active fault acts on or that is truly
unhealthy now (``candidates="remedy"``, the default: about 10 actions; privileged: it knows the
culprit); every valid action on a service that *looks* broken in the observation (the
runbook's symptom rules) or that such a service calls (``"observed"``: no privileged
knowledge of where the fault is, only of what each action would do); or every valid action
(``"all"``: ~85 on socialNetwork, about 2 s per decision there, too slow for the benchmark).
With no candidate it waits without simulating. It is not guarded: it is the bound, not a
deployable policy.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.episodes import StepPolicy
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.mesh import MeshSimulator

__all__ = ["OraclePolicy", "continuation_cost", "oracle_cost"]

_RUNBOOK = ReactivePolicy()


def continuation_cost(
    sim: MeshSimulator,
    steps: int,
    base: ReactivePolicy | None,
    state: MeshState,
    cost: float = 0.0,
) -> float:
    """``cost`` plus the cost of ``steps`` more steps of ``base`` (None: no-ops) from ``state``
    on ``sim`` (mutated): per step the action's cost, then [SLO violated] + (1 - availability)."""
    for _ in range(steps):
        a = Action.noop() if base is None else base.decide(sim.graph, state)
        if not sim.action_mask()[sim.action_space.index(a)]:
            a = Action.noop()
        cost += sim.config.action_cost(a.type.value)
        r = sim.step(a)
        state = r.state
        cost += float(r.slo.violated) + (1.0 - r.slo.availability)
    return cost


def oracle_cost(
    sim: MeshSimulator, action: Action, horizon: int, base: ReactivePolicy | None = None
) -> float:
    """Cost of ``action`` then ``horizon - 1`` steps of ``base`` (None: no-ops) on a clone of
    ``sim`` (see the module docstring)."""
    clone = sim.clone()
    cost = sim.config.action_cost(action.type.value)
    r = clone.step(action)
    cost += float(r.slo.violated) + (1.0 - r.slo.availability)
    return continuation_cost(clone, horizon - 1, base, r.state, cost)


class OraclePolicy:
    """MPC on the true simulator (see the module docstring).

    Args:
        horizon: steps simulated per candidate.
        candidates: ``"remedy"`` (actions on faulted or unhealthy services), ``"observed"``
            (on services that look broken and their callees) or ``"all"``.
        tie_margin: an action must beat no-op's cost by more than this.
        name: the policy's name in reports.
        use_reactive_rollout: also continue each candidate with the reactive runbook.
    """

    def __init__(
        self,
        *,
        horizon: int = 8,
        candidates: Literal["remedy", "observed", "all"] = "remedy",
        tie_margin: float = 1e-6,
        name: str = "oracle",
        use_reactive_rollout: bool = True,
    ) -> None:
        self.name = name
        self.bases: tuple[ReactivePolicy | None, ...] = (
            (None, ReactivePolicy()) if use_reactive_rollout else (None,)
        )
        self.horizon = horizon
        self.candidates = candidates
        self.tie_margin = tie_margin

    def _candidates(self, sim: MeshSimulator, state: MeshState) -> list[int]:
        mask = sim.action_mask()
        if self.candidates == "all":
            return [int(k) for k in np.flatnonzero(mask[1:]) + 1]
        if self.candidates == "observed":
            looks = {n for n, s in state.services.items() if _RUNBOOK.remedy(s) is not None}
            g = sim.graph.digraph
            targets = looks | {c for n in looks for c in g.successors(n)}
        else:
            targets = {s for f in sim.active_faults for s in f.acts_on}
            targets |= {s for s, h in sim.true_health().items() if h != "healthy"}
        n = sim.graph.num_services
        out = []
        for s in sorted(targets, key=sim.graph.index):
            i = sim.graph.index(s)
            out += [1 + t * n + i for t in range(4) if mask[1 + t * n + i]]
        return out

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        def policy(state: MeshState, space: ActionSpace) -> Action:
            cands = self._candidates(sim, state)
            if not cands:
                return Action.noop()

            def cost(action: Action) -> float:
                return min(oracle_cost(sim, action, self.horizon, b) for b in self.bases)

            best, best_cost = Action.noop(), cost(Action.noop())
            for k in cands:
                action = sim.action_space.action(k)
                c = cost(action)
                if c < best_cost - self.tie_margin:
                    best, best_cost = action, c
            return best

        return policy
