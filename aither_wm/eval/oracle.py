"""The oracle: model-predictive control with the true simulator as the model (an upper bound).

Each step it clones the simulator (state, faults and random generator: the clone sees exactly
the noise the real episode will see), plays each candidate action followed by no-ops for
``horizon`` steps, and keeps the action with the lowest cost::

    cost = sum_h [SLO violated at h] + sum_h (1 - availability at h) + action_cost(first action)

Ties go to no-op (evaluated first; another action must be better by more than ``tie_margin``).
Candidates: every valid action on a service that an active fault acts on or that is truly
unhealthy now (``candidates="remedy"``, the default: about 10 actions), or every valid action
(``"all"``: ~100 on socialNetwork, ~10x slower). With no active fault and every service healthy
it waits without simulating. It is not guarded: it is the bound, not a deployable policy.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from aither_wm.eval.episodes import StepPolicy
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.mesh import MeshSimulator

__all__ = ["OraclePolicy", "oracle_cost"]


def oracle_cost(sim: MeshSimulator, action: Action, horizon: int) -> float:
    """Cost of ``action`` then ``horizon - 1`` no-ops on a clone of ``sim`` (see module doc)."""
    clone = sim.clone()
    cost = sim.config.action_cost(action.type.value)
    for h in range(horizon):
        r = clone.step(action if h == 0 else Action.noop())
        cost += float(r.slo.violated) + (1.0 - r.slo.availability)
    return cost


class OraclePolicy:
    """MPC on the true simulator (see the module docstring).

    Args:
        horizon: steps simulated per candidate.
        candidates: ``"remedy"`` (actions on faulted or unhealthy services) or ``"all"``.
        tie_margin: an action must beat no-op's cost by more than this.
        name: the policy's name in reports.
    """

    def __init__(
        self,
        *,
        horizon: int = 8,
        candidates: Literal["remedy", "all"] = "remedy",
        tie_margin: float = 1e-6,
        name: str = "oracle",
    ) -> None:
        self.name = name
        self.horizon = horizon
        self.candidates = candidates
        self.tie_margin = tie_margin

    def _candidates(self, sim: MeshSimulator) -> list[int]:
        mask = sim.action_mask()
        if self.candidates == "all":
            return [int(k) for k in np.flatnonzero(mask[1:]) + 1]
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
            cands = self._candidates(sim)
            if not cands:
                return Action.noop()
            best, best_cost = Action.noop(), oracle_cost(sim, Action.noop(), self.horizon)
            for k in cands:
                action = sim.action_space.action(k)
                c = oracle_cost(sim, action, self.horizon)
                if c < best_cost - self.tie_margin:
                    best, best_cost = action, c
            return best

        return policy
