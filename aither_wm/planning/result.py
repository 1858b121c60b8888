"""What every planner returns, and the call every planner answers.

Glossary: D latent size, K flat actions, H horizon.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from aither_wm.errors import PlanningError, ShapeError
from aither_wm.planning.objective import PlanObjective, evaluate
from aither_wm.types import LatentDynamics

__all__ = ["PlanResult", "PlanStats", "Planner", "deadline_at", "finish_plan"]


@dataclass(frozen=True)
class PlanStats:
    """How a plan was found.

    Attributes:
        planner: the planner's name ("cem", "mcts", "beam", "cem_loop").
        rows_evaluated: (state, action) rows sent to ``dynamics.step`` while searching, a final
            rollout of the returned sequence (when the planner did not keep its latents)
            excluded.
        iterations: CEM iterations, MCTS simulations, or beam depths expanded.
        latency_ms: wall time of the whole ``plan`` call, in milliseconds.
        hit_deadline: True when the search stopped early at its deadline.
    """

    planner: str
    rows_evaluated: int
    iterations: int
    latency_ms: float
    hit_deadline: bool


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A plan: an action sequence from the current state, its predicted outcome and cost.

    Attributes:
        first_action: the flat action to execute now (``actions[0]``); never a masked action.
        actions: the whole sequence, length H; every entry valid under the mask.
        cost: predicted cost of ``actions`` under the shared objective:
            ``objective.cost(latents[None], tensor([actions]))``, exactly. Every planner scores
            with that one objective; ``evaluate(dynamics, z0, tensor([actions]), objective)``
            gives the same value up to float rounding (a planner reuses the latents its search
            computed in batches, and a batched matmul rounds a row's last bits differently from
            a one-row call: about 1e-7 relative, see :func:`finish_plan`).
        latents: predicted latent after each action (an inference-mode tensor: clone it before
            using it in autograd). [H, D]
        stats: search statistics.
    """

    first_action: int
    actions: tuple[int, ...]
    cost: float
    latents: torch.Tensor
    stats: PlanStats

    @property
    def horizon(self) -> int:
        """H."""
        return len(self.actions)


@runtime_checkable
class Planner(Protocol):
    """A planner: ``plan`` one decision from the model, the current latent, objective and mask."""

    name: str

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
        """Shape: z0 [D] float; mask [K] bool."""
        ...

    def reset(self) -> None:
        """Forget anything carried from one decision to the next (warm starts)."""
        ...


def deadline_at(started_s: float, deadline_ms: float | None) -> float | None:
    """The ``time.perf_counter()`` value a search started at ``started_s`` must stop by, or None
    without a budget."""
    return None if deadline_ms is None else started_s + deadline_ms / 1e3


def finish_plan(
    dynamics: LatentDynamics,
    z0: torch.Tensor,
    objective: PlanObjective,
    actions: torch.Tensor,
    *,
    planner: str,
    rows_evaluated: int,
    iterations: int,
    started_s: float,
    hit_deadline: bool,
    latents: torch.Tensor | None = None,
) -> PlanResult:
    """Build the :class:`PlanResult` of a found sequence, scoring it with the shared objective.

    ``latents`` are the sequence's predicted latents as the search computed them, when it kept
    them; without them the sequence is rolled out again (:func:`evaluate`, H one-row model
    calls). Either way the cost is ``objective.cost`` of the returned latents. Re-rolling gives
    the same latents up to float rounding only (a row's last bits depend on the batch it was
    computed in), and costs H sequential model calls: about a tenth of a CEM decision.

    Shape: z0 [D]; actions [H] long (flat indices); latents [H, D] or None.
    """
    seq = actions.reshape(1, -1)  # [1, H]
    if latents is None:
        cost, rolled = evaluate(dynamics, z0, seq, objective)  # [1], [1, H, D]
    else:
        if latents.shape != (seq.shape[1], objective.latent_dim):
            raise ShapeError(
                f"{planner}: latents must be [H={seq.shape[1]}, D={objective.latent_dim}], "
                f"got {tuple(latents.shape)}"
            )
        rolled = latents.unsqueeze(0)  # [1, H, D]
        cost = objective.cost(rolled, seq)  # [1]
    value = float(cost[0])
    if not math.isfinite(value):
        raise PlanningError(
            f"{planner}: the found sequence has a non-finite predicted cost ({value}): "
            "the model is unusable"
        )
    acts = tuple(int(a) for a in seq[0].tolist())
    stats = PlanStats(
        planner=planner,
        rows_evaluated=int(rows_evaluated),
        iterations=int(iterations),
        latency_ms=(time.perf_counter() - started_s) * 1e3,
        hit_deadline=bool(hit_deadline),
    )
    return PlanResult(
        first_action=acts[0],
        actions=acts,
        cost=value,
        latents=rolled[0],
        stats=stats,
    )
