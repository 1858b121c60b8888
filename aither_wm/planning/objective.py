"""The one planning objective every planner (and the evaluation harness) scores sequences with.

The cost of an action sequence ``a_0 .. a_{H-1}`` from ``z0``, whose predicted latents are
``z_1 .. z_H`` (``z_{h+1}`` is the latent after action ``a_h``), is::

    cost = sum_h w_h * ||z_{h+1} - goal||^2 / D  +  sum_h c[a_h]

The distance term is a mean squared error per latent dimension. With a SIGReg-regularised encoder
latents are close to isotropic with unit variance, so two unrelated states lie about 2.0 apart and
a healthy state lies near 0.0 from its goal; action costs are expressed in the same unit. The
default per-type costs (noop 0, restart 0.05, scale_out 0.03, scale_in 0.02, rollback 0.05) are
thus 1-2.5 % of the distance between unrelated states: enough to prefer waiting when nothing is
wrong and to break ties towards the cheaper intervention, never enough to prefer living with a
fault.

:func:`rollout` and :func:`evaluate` are the only way a planner turns a sequence into latents and a
cost for its :class:`~aither_wm.planning.result.PlanResult`, so the same sequence gets the same
cost whichever planner found it.

Glossary: B batch, D latent size, K flat actions, H horizon, S sampled sequences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import torch

from aither_wm.errors import ConfigError, PlanningError, ShapeError
from aither_wm.types import LatentDynamics

__all__ = [
    "ACTION_TYPE_NAMES",
    "DEFAULT_COST_PER_TYPE",
    "PlanObjective",
    "action_costs",
    "check_problem",
    "evaluate",
    "flat_type_ids",
    "rollout",
]

#: Action type names in type-id order (the order of ``aither_wm.graph.actions.ACTION_TYPES``).
ACTION_TYPE_NAMES: tuple[str, ...] = ("noop", "restart", "scale_out", "scale_in", "rollback")

#: Default cost of one action of each type, in units of mean squared latent distance (see above).
DEFAULT_COST_PER_TYPE: Mapping[str | int, float] = MappingProxyType(
    {"noop": 0.0, "restart": 0.05, "scale_out": 0.03, "scale_in": 0.02, "rollback": 0.05}
)


def flat_type_ids(num_services: int) -> torch.Tensor:
    """Type id of each flat action for ``num_services`` services (0 noop, then 4 blocks of N).

    Same layout as ``ActionSpace.type_ids()``, without needing a graph.

    Shape: returns [K] long, K = 1 + 4 * num_services.
    """
    if num_services < 1:
        raise ConfigError(f"num_services must be >= 1, got {num_services}")
    ids = torch.arange(1, len(ACTION_TYPE_NAMES)).repeat_interleave(num_services)  # [4 * N]
    return torch.cat([torch.zeros(1, dtype=torch.long), ids])  # [K]


def action_costs(
    type_ids: torch.Tensor,
    cost_per_type: Mapping[str | int, float] | Sequence[float] = DEFAULT_COST_PER_TYPE,
) -> torch.Tensor:
    """Per-action cost table from each action's type id.

    Args:
        type_ids: type id of each flat action (0 noop, 1 restart, 2 scale_out, 3 scale_in,
            4 rollback), e.g. ``ActionSpace.type_ids()``.
        cost_per_type: a mapping from type name or id to cost (types left out keep their default
            from :data:`DEFAULT_COST_PER_TYPE`), or a sequence of 5 costs in type-id order.

    Shape:
        type_ids: [K] long; returns [K] float32.
    """
    if type_ids.ndim != 1 or type_ids.dtype != torch.long:
        raise ShapeError(f"type_ids must be [K] long, got {tuple(type_ids.shape)} {type_ids.dtype}")
    n_types = len(ACTION_TYPE_NAMES)
    if type_ids.numel() and (int(type_ids.min()) < 0 or int(type_ids.max()) >= n_types):
        raise ShapeError(f"type ids must lie in [0, {n_types}), got {type_ids.unique().tolist()}")
    table = [DEFAULT_COST_PER_TYPE[name] for name in ACTION_TYPE_NAMES]
    if isinstance(cost_per_type, Mapping):
        for key, value in cost_per_type.items():
            if isinstance(key, str):
                if key not in ACTION_TYPE_NAMES:
                    raise ConfigError(
                        f"unknown action type {key!r}; expected one of {ACTION_TYPE_NAMES}"
                    )
                table[ACTION_TYPE_NAMES.index(key)] = float(value)
            elif isinstance(key, int) and 0 <= key < n_types:
                table[key] = float(value)
            else:
                raise ConfigError(f"unknown action type {key!r}; expected a name or id < {n_types}")
    else:
        if len(cost_per_type) != n_types:
            raise ConfigError(
                f"expected {n_types} costs in type-id order, got {len(cost_per_type)}"
            )
        table = [float(v) for v in cost_per_type]
    if any(not (v >= 0.0 and v < float("inf")) for v in table):
        raise ConfigError(f"action costs must be finite and >= 0, got {table}")
    return torch.tensor(table, dtype=torch.float32, device=type_ids.device)[type_ids]  # [K]


@dataclass(frozen=True, eq=False)
class PlanObjective:
    """Weighted distance of predicted latents to a goal latent, plus a per-action cost.

    Attributes:
        goal: the goal latent (the encoding of the healthy version of the current state). [D]
        action_cost: cost of each flat action, see :func:`action_costs`. [K] float
        discount: step weights are ``discount ** h`` when ``step_weights`` is None.
        step_weights: explicit weight of the latent after each action, for horizons up to its
            length (a planner of horizon H uses the first H). [H_max] float, or None.

    Costs are computed in float32 (or the latents' dtype when wider), whatever the model's dtype.
    """

    goal: torch.Tensor
    action_cost: torch.Tensor
    discount: float = 1.0
    step_weights: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.goal.ndim != 1 or not self.goal.is_floating_point():
            raise ShapeError(
                f"goal must be [D] float, got {tuple(self.goal.shape)} {self.goal.dtype}"
            )
        if self.action_cost.ndim != 1 or not self.action_cost.is_floating_point():
            raise ShapeError(
                f"action_cost must be [K] float, got {tuple(self.action_cost.shape)} "
                f"{self.action_cost.dtype}"
            )
        if not 0.0 < self.discount <= 1.0:
            raise ConfigError(f"discount must lie in (0, 1], got {self.discount}")
        if self.step_weights is not None and (
            self.step_weights.ndim != 1 or self.step_weights.numel() == 0
        ):
            raise ShapeError(
                f"step_weights must be [H] float, got {tuple(self.step_weights.shape)}"
            )

    @property
    def latent_dim(self) -> int:
        """D."""
        return self.goal.shape[0]

    @property
    def num_actions(self) -> int:
        """K."""
        return self.action_cost.shape[0]

    def weights(self, horizon: int) -> torch.Tensor:
        """Weight of the latent after each of ``horizon`` actions. Shape: returns [H] float32."""
        if horizon < 1:
            raise PlanningError(f"horizon must be >= 1, got {horizon}")
        if self.step_weights is None:
            return self.discount ** torch.arange(
                horizon, dtype=torch.float32, device=self.goal.device
            )
        if self.step_weights.shape[0] < horizon:
            raise ShapeError(
                f"objective has step weights for horizons up to {self.step_weights.shape[0]}, "
                f"a planner asked for {horizon}"
            )
        return self.step_weights[:horizon].to(torch.float32)

    def distance(self, latents: torch.Tensor) -> torch.Tensor:
        """Mean squared distance of each latent to the goal.

        Shape: latents [..., D]; returns [...] float32 (or wider).
        """
        dtype = torch.promote_types(latents.dtype, torch.float32)
        diff = torch.sub(latents.to(dtype), self.goal.to(dtype))  # [..., D]
        return diff.square_().mean(dim=-1)  # [...]

    def prior_distance(self, latents: torch.Tensor) -> torch.Tensor | None:
        """What the planners' priors rank first actions by (CEM's root prior, MCTS's prior and
        top-m root), or None: rank by the distance itself (this class). An objective with a
        terminal value ranks by the value of the state after one action
        (:class:`~aither_wm.planning.value.ValueObjective`), as MuZero's policy prior focuses
        search on actions that pay off beyond the next step.

        Shape: latents [..., D]; returns [...] float32, or None.
        """
        return None

    def cost(self, latents: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Cost of each sequence.

        Shape:
            latents: [S, H, D], the latent after each action; actions: [S, H] long;
            returns [S] float32.
        """
        S, H, D = latents.shape
        if self.latent_dim != D or actions.shape != (S, H):
            raise ShapeError(
                f"expected latents [S, H, {self.latent_dim}] and actions [S, H], got "
                f"{tuple(latents.shape)} and {tuple(actions.shape)}"
            )
        return self.cost_from_distances(self.distance(latents), actions)  # [S]

    def cost_from_distances(self, dist: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """:meth:`cost` from precomputed :meth:`distance` values (same arithmetic, same bits).

        Shape: dist [S, H] float; actions [S, H] long; returns [S].
        """
        w = self.weights(dist.shape[-1]).to(dist.dtype)  # [H]
        acts = self.action_cost[actions].to(dist.dtype)  # [S, H]
        return (dist * w).sum(dim=-1) + acts.sum(dim=-1)  # [S]


def rollout(dynamics: LatentDynamics, z0: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Roll ``dynamics`` forward from ``z0`` under each action sequence, one batched call per step.

    Shape:
        z0: [D]; actions: [S, H] long; returns [S, H, D] (the latent after each action).
    """
    if actions.ndim != 2 or actions.dtype != torch.long:
        raise ShapeError(f"actions must be [S, H] long, got {tuple(actions.shape)} {actions.dtype}")
    if z0.ndim != 1:
        raise ShapeError(f"z0 must be [D], got {tuple(z0.shape)}")
    S, H = actions.shape
    z = z0.expand(S, -1)  # [S, D]
    out = []
    for h in range(H):
        z = dynamics.step(z, actions[:, h])  # [S, D]
        out.append(z)
    return torch.stack(out, dim=1)  # [S, H, D]


def evaluate(
    dynamics: LatentDynamics,
    z0: torch.Tensor,
    actions: torch.Tensor,
    objective: PlanObjective,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cost and predicted latents of each action sequence under the shared objective.

    Every planner reports the cost of its returned sequence as ``evaluate(...)`` of that sequence
    alone (S = 1), so costs are comparable, bit for bit, across planners.

    Shape:
        z0: [D]; actions: [S, H] long; returns (costs [S] float32, latents [S, H, D]).
    """
    with torch.inference_mode():
        latents = rollout(dynamics, z0, actions)  # [S, H, D]
        return objective.cost(latents, actions), latents


def check_problem(
    dynamics: LatentDynamics,
    z0: torch.Tensor,
    objective: PlanObjective,
    mask: torch.Tensor,
    horizon: int,
) -> torch.Tensor:
    """Check one planning problem at a planner's entry point; return the valid action indices.

    Raises ShapeError on a wrong shape or dtype, PlanningError when no action is valid or the
    dynamics is not a :class:`~aither_wm.types.LatentDynamics`.

    Shape:
        z0: [D] float; mask: [K] bool; returns [Kv] long, the valid flat indices in order.
    """
    if not isinstance(dynamics, LatentDynamics):
        raise PlanningError(
            f"expected a LatentDynamics (num_actions, latent_dim, step), got {type(dynamics)!r}"
        )
    K, D = int(dynamics.num_actions), int(dynamics.latent_dim)
    if not isinstance(z0, torch.Tensor) or z0.shape != (D,) or not z0.is_floating_point():
        got = (tuple(z0.shape), z0.dtype) if isinstance(z0, torch.Tensor) else type(z0)
        raise ShapeError(f"z0 must be [D={D}] float, got {got}")
    if not bool(torch.isfinite(z0).all()):
        raise PlanningError("z0 holds NaN or infinite values: the state's latent is unusable")
    if not isinstance(mask, torch.Tensor) or mask.shape != (K,) or mask.dtype != torch.bool:
        got = (tuple(mask.shape), mask.dtype) if isinstance(mask, torch.Tensor) else type(mask)
        raise ShapeError(f"mask must be [K={K}] bool, got {got}")
    if objective.latent_dim != D:
        raise ShapeError(f"objective goal is [{objective.latent_dim}], the model's latent is [{D}]")
    if objective.num_actions != K:
        raise ShapeError(f"objective action_cost is [{objective.num_actions}], the model has K={K}")
    objective.weights(horizon)  # raises when the objective cannot score this horizon
    valid = mask.nonzero().flatten()  # [Kv]
    if valid.numel() == 0:
        raise PlanningError("no valid action: the mask is all False (noop is normally valid)")
    return valid
