"""The policies the benchmark compares, each an :class:`~aither_wm.eval.episodes.EpisodePolicy`.

* ``noop``: never acts (:class:`~aither_wm.eval.episodes.NoopEpisodePolicy`);
* ``random``: with probability ``p_act`` a uniformly random valid action, behind the guard;
* ``reactive``: the Kubernetes-like runbook (:class:`~aither_wm.control.policies.ReactivePolicy`:
  restart on failed health checks or memory, scale on CPU, rollback on errors), behind the guard;
* ``cem`` / ``mcts``: a world-model planner through the :class:`AutohealController` in-process
  (:class:`~aither_wm.control.planners.LocalDispatcher`; no Ray), behind the same guard;
* ``oracle``: :class:`~aither_wm.eval.oracle.OraclePolicy`.

Every guarded policy gets the same :class:`GuardConfig` (the demo's: acting, cooldown 3 steps,
at most 4 actions and 30 % of the services per 10 steps).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from aither_wm.control.controller import AutohealController, ControlDecision, ControllerConfig
from aither_wm.control.guard import GuardConfig, SafetyGuard
from aither_wm.control.planners import LocalDispatcher, PlannerService
from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.episodes import (
    SlotExecutor,
    StepPolicy,
    controller_policy,
    guarded_policy,
    valid_on,
)
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.mesh import MeshSimulator

__all__ = [
    "BENCH_GUARD",
    "PlannerEpisodePolicy",
    "RandomEpisodePolicy",
    "ReactiveEpisodePolicy",
]

#: The guard every acting policy of the benchmark runs behind (the demo's settings).
BENCH_GUARD = GuardConfig(
    dry_run=False,
    cooldown_steps=3,
    window_steps=10,
    max_actions_per_window=4,
    max_service_fraction=0.3,
)


class RandomEpisodePolicy:
    """With probability ``p_act`` a uniformly random valid non-noop action (seeded per episode)."""

    name = "random"

    def __init__(
        self, graph: ServiceGraph, *, p_act: float = 0.2, guard: GuardConfig = BENCH_GUARD
    ) -> None:
        self.graph, self.p_act, self.guard_config = graph, p_act, guard

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        rng = np.random.default_rng([seed, 7])
        guard = SafetyGuard(self.guard_config, num_services=self.graph.num_services)

        def policy(state: MeshState, space: ActionSpace) -> Action:
            if rng.random() >= self.p_act:
                return Action.noop()
            valid = np.flatnonzero(sim.action_mask()[1:]) + 1
            action = sim.action_space.action(int(valid[rng.integers(valid.size)]))
            return (
                valid_on(sim, action) if guard.admit(action, state.step).allowed else Action.noop()
            )

        return policy


class ReactiveEpisodePolicy:
    """The runbook behind the guard."""

    name = "reactive"

    def __init__(
        self,
        graph: ServiceGraph,
        *,
        rules: ReactivePolicy | None = None,
        guard: GuardConfig = BENCH_GUARD,
    ) -> None:
        self.graph, self.rules, self.guard_config = graph, rules or ReactivePolicy(), guard

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        return guarded_policy(self.rules, self.graph, self.guard_config, sim)


class PlannerEpisodePolicy:
    """A world-model planner through the autoheal controller, in-process.

    Args:
        name: the policy's (and the planner's) name, e.g. ``"cem"``.
        service: the planner service (its weights already loaded).
        graph: the mesh.
        controller: controller settings; ``pick``, ``guard`` and ``seed`` are set here.
        guard: the guard's limits.

    ``decisions`` keeps every decision of the current run (for latency and diagnostics).
    """

    def __init__(
        self,
        name: str,
        service: PlannerService | Any,
        graph: ServiceGraph,
        *,
        controller: ControllerConfig | Mapping[str, Any] | None = None,
        guard: GuardConfig = BENCH_GUARD,
    ) -> None:
        self.name = name
        self.graph = graph
        base = (
            controller
            if isinstance(controller, ControllerConfig)
            else ControllerConfig.model_validate(dict(controller or {}))
        )
        pick = f"prefer_{name}" if name in ("cem", "mcts") else "lowest_cost"
        self.config = base.model_copy(update={"guard": guard, "pick": pick, "preference": (name,)})
        self.dispatcher = LocalDispatcher({name: service})
        self.slot = SlotExecutor()
        self.decisions: list[ControlDecision] = []
        self._ctl: AutohealController | None = None

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        cfg = self.config.model_copy(update={"seed": int(seed) % (2**31)})
        self._ctl = AutohealController(self.graph, self.dispatcher, self.slot, config=cfg)
        return controller_policy(self._ctl, self.slot, sim, self.decisions)

    def close(self) -> None:
        self.dispatcher.close()
