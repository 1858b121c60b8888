"""Planner doubles for tests and drills: slow, failing, hanging and rogue planners.

They are real planners (they satisfy :class:`~aither_wm.planning.Planner` and run inside
``PlannerService`` and ``PlannerActor`` like any other); they live in the package so a Ray worker
can import them by name. Use them to check that the controller waits for the slowest planner only
once, survives a planner that raises or hangs, and never lets a planner's answer past the guard.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from aither_wm.planning import CEMPlanner, PlanObjective, PlanResult
from aither_wm.types import LatentDynamics

__all__ = ["FailingPlanner", "HangingPlanner", "RoguePlanner", "SlowPlanner"]


class SlowPlanner:
    """CEM that first sleeps ``delay_s`` (a planner with a known, fixed latency)."""

    def __init__(self, delay_s: float = 0.2, name: str = "slow", **cem: Any) -> None:
        from aither_wm.control.planners import make_cem

        self.delay_s, self.name = delay_s, name
        self.inner: CEMPlanner = make_cem(cem or None)

    def reset(self) -> None:
        self.inner.reset()

    def plan(
        self,
        dynamics: LatentDynamics,
        z0: torch.Tensor,
        objective: PlanObjective,
        mask: torch.Tensor,
        *,
        seed: int,
        deadline_ms: float | None = None,
    ) -> PlanResult:
        time.sleep(self.delay_s)
        return self.inner.plan(dynamics, z0, objective, mask, seed=seed, deadline_ms=deadline_ms)


class FailingPlanner:
    """Raises on every plan."""

    name = "failing"

    def reset(self) -> None:
        """Nothing is carried between decisions."""

    def plan(self, *args: Any, **kwargs: Any) -> PlanResult:
        raise RuntimeError("planner failure drill")


class HangingPlanner(SlowPlanner):
    """Sleeps ``delay_s`` (default 30 s: far past any deadline), then plans."""

    def __init__(self, delay_s: float = 30.0, **cem: Any) -> None:
        super().__init__(delay_s, name="hanging", **cem)


class RoguePlanner:
    """Returns a plan whose first action is a fixed flat index, whatever the mask or the guard
    say, with a tiny cost so that a cost-based pick would choose it."""

    name = "rogue"

    def __init__(self, action: int = 1) -> None:
        self.action = int(action)

    def reset(self) -> None:
        """Nothing is carried between decisions."""

    def plan(
        self,
        dynamics: LatentDynamics,
        z0: torch.Tensor,
        objective: PlanObjective,
        mask: torch.Tensor,
        *,
        seed: int,
        deadline_ms: float | None = None,
    ) -> PlanResult:
        from aither_wm.planning import PlanStats

        return PlanResult(
            first_action=self.action,
            actions=(self.action,),
            cost=-1e9,
            latents=z0.unsqueeze(0),
            stats=PlanStats("rogue", 0, 0, 0.0, False),
        )
