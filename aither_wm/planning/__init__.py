"""Planners over a learned latent model: categorical CEM, Gumbel-root MCTS and beam search.

Every planner takes the model only through :class:`~aither_wm.types.LatentDynamics`, scores
sequences with one shared :class:`PlanObjective`, never returns a masked action, and returns a
:class:`PlanResult` whose cost is the objective's cost of the returned sequence.

Test doubles (``MLPDynamics``, ``KnownOptimumDynamics``) live in ``aither_wm.planning.testing``.
"""

from aither_wm.planning.beam import BeamPlanner
from aither_wm.planning.cem import CEMConfig, CEMPlanner, cem_plan_loop
from aither_wm.planning.mcts import MCTSConfig, MCTSPlanner
from aither_wm.planning.objective import (
    ACTION_TYPE_NAMES,
    DEFAULT_COST_PER_TYPE,
    PlanObjective,
    action_costs,
    check_problem,
    evaluate,
    flat_type_ids,
    rollout,
)
from aither_wm.planning.result import Planner, PlanResult, PlanStats, finish_plan
from aither_wm.planning.value import ValueObjective

__all__ = [
    "ACTION_TYPE_NAMES",
    "DEFAULT_COST_PER_TYPE",
    "BeamPlanner",
    "CEMConfig",
    "CEMPlanner",
    "MCTSConfig",
    "MCTSPlanner",
    "PlanObjective",
    "PlanResult",
    "PlanStats",
    "Planner",
    "ValueObjective",
    "action_costs",
    "cem_plan_loop",
    "check_problem",
    "evaluate",
    "finish_plan",
    "flat_type_ids",
    "rollout",
]
