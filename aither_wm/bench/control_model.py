"""The control model's recipe, shared by ``bench decisions`` and ``bench autoheal``.

1. labelled episodes under the remedy-rich behaviour policy (:class:`~aither_wm.eval.data.ExplorePolicy`),
   for the world model's windows;
2. counterfactual branch sets (:mod:`aither_wm.eval.counterfactual`) on other episodes played by
   :class:`~aither_wm.eval.counterfactual.RunbookExplore`: every second step from the fault's
   onset, every candidate's true cost over ``value_horizon`` steps (no-op and runbook
   continuations), in ``workers`` processes;
3. :func:`~aither_wm.eval.control_fit.fit_control_model`.

Seeds: episodes ``seed``, branches ``seed + 1``; evaluations use ``seed + 50_000`` and up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from aither_wm.apps.presets import SMALL_MODEL
from aither_wm.config import ControlModelConfig
from aither_wm.eval.control_fit import ControlFitConfig, fit_control_model
from aither_wm.eval.counterfactual import BranchSet, RunbookExplore, branch_episodes
from aither_wm.eval.data import LabelledEpisode, collect, training_scenarios
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.control_model import ControlModel
from aither_wm.sim.faults import FAULT_NAMES

__all__ = ["FULL_RECIPE", "QUICK_RECIPE", "ControlRecipe", "train_control"]

#: The benchmarks' small control model (the autoheal bench's world-model sizes).
SMALL_CONTROL = ControlModelConfig(world=SMALL_MODEL)


@dataclass(frozen=True)
class ControlRecipe:
    """Sizes of the control model's data and training.

    Attributes:
        model: architecture.
        fit: training settings.
        train_episodes: labelled episodes for the windows (per graph).
        branch_episodes: episodes whose states are branched (per graph).
        episode_steps: steps per episode.
        branch_every: branch every this many steps from a fault's onset.
        workers: processes that branch.
    """

    model: ControlModelConfig
    fit: ControlFitConfig
    train_episodes: int
    branch_episodes: int
    episode_steps: int = 40
    branch_every: int = 2
    workers: int = 2


FULL_RECIPE = ControlRecipe(
    model=SMALL_CONTROL,
    fit=ControlFitConfig(steps=2000, rank_weight=20.0),
    train_episodes=200,
    branch_episodes=200,
)
QUICK_RECIPE = ControlRecipe(
    model=SMALL_CONTROL,
    fit=ControlFitConfig(steps=150, rank_weight=20.0, batch_windows=8, batch_sets=4),
    train_episodes=24,
    branch_episodes=16,
    branch_every=4,
)


def control_data(
    graph: ServiceGraph, recipe: ControlRecipe, seed: int
) -> tuple[list[LabelledEpisode], list[BranchSet]]:
    """The recipe's labelled episodes and branch sets of one graph."""
    faults = list(FAULT_NAMES)
    steps = recipe.episode_steps
    eps = collect(
        graph,
        training_scenarios(seed=seed, episodes=recipe.train_episodes, steps=steps, faults=faults),
    )
    sets = branch_episodes(
        graph,
        training_scenarios(
            seed=seed + 1, episodes=recipe.branch_episodes, steps=steps, faults=faults
        ),
        behaviour=RunbookExplore(),
        every=recipe.branch_every,
        horizon=recipe.model.value_horizon,
        workers=recipe.workers,
    )
    return eps, sets


def train_control(
    graphs: Sequence[ServiceGraph],
    recipe: ControlRecipe,
    seed: int,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[ControlModel, dict[str, Any]]:
    """Data (see the module docstring) on every graph, then one model trained on all of them."""
    t = time.perf_counter()
    data = {g: control_data(g, recipe, seed + 10 * i) for i, g in enumerate(graphs)}
    data_s = time.perf_counter() - t
    torch.manual_seed(seed)
    model = ControlModel(recipe.model)
    rep = fit_control_model(
        model,
        {g: d[0] for g, d in data.items()},
        {g: d[1] for g, d in data.items()},
        recipe.fit.model_copy(update={"seed": seed}),
        progress=progress,
    )
    info = {
        "recipe": "control model: windows + counterfactual branches, value over "
        f"{recipe.model.value_horizon} steps",
        "graphs": sorted(g.name for g in graphs),
        "transitions": sum(len(e.transitions) for d in data.values() for e in d[0]),
        "branch_sets": sum(len(d[1]) for d in data.values()),
        "branch_rows": rep.branch_rows,
        "steps": rep.steps,
        "data_s": round(data_s, 1),
        "fit_s": round(rep.seconds, 1),
        "final": {k: round(v, 4) for k, v in rep.final.items()},
    }
    return model, info
