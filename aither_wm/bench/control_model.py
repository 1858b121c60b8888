"""The control model's recipe, shared by ``bench decisions`` and ``bench autoheal``.

1. labelled episodes under the remedy-rich behaviour policy (:class:`~aither_wm.eval.data.ExplorePolicy`),
   for the world model's windows;
2. counterfactual branch sets (:mod:`aither_wm.eval.counterfactual`) on other episodes played by
   :class:`~aither_wm.eval.counterfactual.RunbookExplore`: every second step while the fault
   is active and every ``healthy_every``-th step while none is (before the onset, after a fix),
   every candidate's true cost over ``value_horizon`` steps, in ``workers`` processes;
3. :func:`~aither_wm.eval.control_fit.fit_control_model`;
4. ``dagger_rounds`` DAgger rounds (:mod:`aither_wm.eval.dagger`): branch the states the trained
   model's own anchored choices lead to, add them to the branch sets, and train on, from the
   current weights, for ``dagger_steps`` more steps;
5. the controller's two deviation thresholds, calibrated on ``calibration_episodes`` held-out
   episodes played by the runbook (:func:`~aither_wm.eval.decisions.calibrate_min_improvement`):
   ``min_improvement`` on the states where the runbook acts (a different action, or waiting),
   ``min_improvement_wait`` on those where it waits (acting where the rules see nothing wrong:
   fault-free stretches, slow faults before the breach, a mesh recovering after a fix);
6. with ``selection_seeds``, both thresholds selected in closed loop instead
   (:func:`~aither_wm.eval.selection.select_threshold`): CEM through the controller plays
   held-out scenarios (every fault type and fault-free, ``selection_seeds`` replicates) at each
   ``min_improvement`` of :data:`SELECTION_GRID`, with ``min_improvement_wait`` as calibrated
   and with NEVER, and the pair with the fewest SLO-violation minutes, no more wrong actions
   than the runbook and none on fault-free episodes is kept. One decision at a time on the
   runbook's states (step 5) is not what the controller faces once it deviates: this is.

Seeds: episodes ``seed``, branches ``seed + 1``, DAgger round r ``seed + 2 + r``, calibration
``seed + 30_000``, selection ``seed + 40_000``; evaluations use ``seed + 50_000`` and up (and
the autoheal bench's scenarios are drawn from their own seed sequence).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from aither_wm.apps.presets import SMALL_MODEL
from aither_wm.config import ControlModelConfig
from aither_wm.control.planners import PlannerService
from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.control_fit import ControlFitConfig, fit_control_model
from aither_wm.eval.counterfactual import Behaviour, BranchSet, RunbookExplore, branch_episodes
from aither_wm.eval.dagger import ModelBehaviour
from aither_wm.eval.data import LabelledEpisode, collect, training_scenarios
from aither_wm.eval.decisions import calibrate_min_improvement, deviation_gains, model_scores
from aither_wm.eval.episodes import make_scenarios
from aither_wm.eval.policies import PlannerEpisodePolicy, ReactiveEpisodePolicy
from aither_wm.eval.selection import NEVER, select_threshold
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.control_model import ControlModel
from aither_wm.sim.faults import FAULT_NAMES

__all__ = [
    "FULL_RECIPE",
    "PLANNERS",
    "QUICK_RECIPE",
    "SELECTION_GRID",
    "ControlRecipe",
    "control_policies",
    "train_control",
]

#: The benchmarks' small control model (the autoheal bench's world-model sizes).
SMALL_CONTROL = ControlModelConfig(world=SMALL_MODEL)

#: Planner settings of the control model's rows (bench autoheal) and of the exam (bench
#: decisions): horizon 1, the value head pricing everything after the first action.
PLANNERS: dict[str, dict[str, Any]] = {"cem": {"horizon": 1}, "mcts": {"horizon": 1}}

#: ``min_improvement`` values the closed-loop selection tries (violation-steps; NEVER: keep the
#: runbook's proposals), each with ``min_improvement_wait`` as calibrated and with NEVER.
SELECTION_GRID = (0.5, 1.0, 1.5, 2.0, 3.0, NEVER)


@dataclass(frozen=True)
class ControlRecipe:
    """Sizes of the control model's data and training.

    Attributes:
        model: architecture.
        fit: training settings.
        train_episodes: labelled episodes for the windows (per graph).
        branch_episodes: episodes whose states are branched (per graph).
        episode_steps: steps per episode.
        branch_every: branch every this many steps while a fault is active.
        healthy_every: in faulted episodes, branch every this many steps while no fault is
            active (0: never).
        workers: processes that branch.
        dagger_rounds: DAgger rounds after the first fit.
        dagger_episodes: episodes played by the model and branched, per round (per graph).
        dagger_steps: optimizer steps of each round's training.
        runbook_continuation: the value's continuation after a candidate: False, no-ops (the
            cost if nothing more is done: what a controller that replans every step must
            assume of a future it does not control); True, the cheaper of no-ops and the
            runbook (the oracle's cost).
        calibration_episodes: held-out episodes (per graph) whose states calibrate the
            controller's ``min_improvement``; 0: not calibrated.
        calibration_precision: share of deviations from the runbook that must be truly better.
        selection_seeds: replicates of held-out scenarios on which ``min_improvement`` is
            selected in closed loop (0: the open-loop calibration's value is kept).
        selection_steps: steps of those scenarios (the autoheal bench's episodes: 36).
    """

    model: ControlModelConfig
    fit: ControlFitConfig
    train_episodes: int
    branch_episodes: int
    episode_steps: int = 40
    branch_every: int = 2
    healthy_every: int = 0
    workers: int = 2
    dagger_rounds: int = 0
    dagger_episodes: int = 0
    dagger_steps: int = 0
    runbook_continuation: bool = False
    calibration_episodes: int = 0
    calibration_precision: float = 0.75
    selection_seeds: int = 0
    selection_steps: int = 36

    @property
    def bases(self) -> tuple[ReactivePolicy | None, ...]:
        """The continuations of :func:`~aither_wm.eval.counterfactual.branch_state`."""
        return (None, ReactivePolicy()) if self.runbook_continuation else (None,)


FULL_RECIPE = ControlRecipe(
    model=SMALL_CONTROL,
    fit=ControlFitConfig(steps=2000, rank_weight=100.0),
    train_episodes=200,
    branch_episodes=600,
    calibration_episodes=60,
    selection_seeds=3,
)
QUICK_RECIPE = ControlRecipe(
    model=SMALL_CONTROL,
    fit=ControlFitConfig(steps=150, rank_weight=100.0, batch_windows=8, batch_sets=4),
    train_episodes=24,
    branch_episodes=16,
    branch_every=4,
    calibration_episodes=6,
    selection_seeds=1,
)


def _branches(
    graph: ServiceGraph,
    recipe: ControlRecipe,
    seed: int,
    episodes: int,
    behaviour: Behaviour | None,
) -> list[BranchSet]:
    scenarios = training_scenarios(
        seed=seed, episodes=episodes, steps=recipe.episode_steps, faults=list(FAULT_NAMES)
    )
    return branch_episodes(
        graph,
        scenarios,
        behaviour=behaviour,
        every=recipe.branch_every,
        healthy_every=recipe.healthy_every,
        horizon=recipe.model.value_horizon,
        bases=recipe.bases,
        workers=recipe.workers,
    )


def control_data(
    graph: ServiceGraph, recipe: ControlRecipe, seed: int
) -> tuple[list[LabelledEpisode], list[BranchSet]]:
    """The recipe's labelled episodes and branch sets of one graph."""
    eps = collect(
        graph,
        training_scenarios(
            seed=seed,
            episodes=recipe.train_episodes,
            steps=recipe.episode_steps,
            faults=list(FAULT_NAMES),
        ),
    )
    return eps, _branches(graph, recipe, seed + 1, recipe.branch_episodes, RunbookExplore())


def control_policies(
    model: ControlModel,
    graph: ServiceGraph,
    min_improvement: float,
    min_improvement_wait: float | None,
    kinds: Sequence[str] = ("cem", "mcts"),
    min_improvement_runbook: float | None = None,
) -> list[PlannerEpisodePolicy]:
    """CEM and MCTS on the control model (value objective, :data:`PLANNERS`) through the
    controller anchored on the runbook (deviating by the given thresholds), with the
    guard-aware mask and the failed-action penalty; named ``cem_control`` and ``mcts_control``.
    Budget-limited search (no deadline): the same seed gives the same plan on any machine."""
    out = []
    for kind in kinds:
        svc = PlannerService(
            kind, model_config=model.config, graphs=[graph], planner_config=PLANNERS[kind],
            name=kind,
        )  # fmt: skip
        svc.load_weights(1, model.state_dict())
        ctl = {
            "deadline_ms": 600_000.0,
            "min_weights_version": 1,
            "min_improvement": min_improvement,
            "min_improvement_wait": min_improvement_wait,
            "min_improvement_runbook": min_improvement_runbook,
            "anchor_runbook": True,
        }
        pol = PlannerEpisodePolicy(kind, svc, graph, controller=ctl)
        pol.name = f"{kind}_control"
        out.append(pol)
    return out


def _select(
    model: ControlModel,
    graphs: Sequence[ServiceGraph],
    recipe: ControlRecipe,
    seed: int,
    min_improvement_wait: float | None,
) -> tuple[tuple[float, float], list[dict[str, Any]]]:
    """Both thresholds selected in closed loop (see the module docstring)."""
    cases = [
        (g, make_scenarios(seed=seed + 40_000 + i, seeds=recipe.selection_seeds,
                           faults=[None, *FAULT_NAMES], steps=recipe.selection_steps))
        for i, g in enumerate(graphs)
    ]  # fmt: skip
    waits = [NEVER] if min_improvement_wait is None else [min_improvement_wait, NEVER]
    grid = [(tau, w) for w in waits for tau in SELECTION_GRID]  # most deviating first
    return select_threshold(
        cases,
        lambda g, x: control_policies(model, g, x[0], x[1], kinds=("cem",))[0],
        ReactiveEpisodePolicy,
        grid,
    )


def _calibrate(
    model: ControlModel, graphs: Sequence[ServiceGraph], recipe: ControlRecipe, seed: int
) -> dict[str, Any]:
    """Both deviation thresholds (see the module docstring) on held-out runbook episodes."""
    sets = {
        g: _branches(g, recipe, seed + 10 * i + 30_000, recipe.calibration_episodes, None)
        for i, g in enumerate(graphs)
    }
    scores = {g: model_scores(model, g, b) for g, b in sets.items()}
    out: dict[str, Any] = {"states": sum(len(b) for b in sets.values())}
    for key, table_key, waits in (
        ("min_improvement", "table", False),
        ("min_improvement_wait", "table_wait", True),
    ):
        gains = [deviation_gains(g, sets[g], scores[g], runbook_waits=waits) for g in sets]
        out[key], out[table_key] = calibrate_min_improvement(
            np.concatenate([p for p, _ in gains]),
            np.concatenate([q for _, q in gains]),
            precision=recipe.calibration_precision,
        )
    return out


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
    episodes = {g: d[0] for g, d in data.items()}
    branches = {g: d[1] for g, d in data.items()}
    rep = fit_control_model(
        model, episodes, branches, recipe.fit.model_copy(update={"seed": seed}), progress=progress
    )
    fit_s, steps = rep.seconds, rep.steps
    for r in range(recipe.dagger_rounds):
        t = time.perf_counter()
        behaviour = ModelBehaviour(
            recipe.model, {k: v.clone() for k, v in model.state_dict().items()}
        )
        for i, g in enumerate(graphs):
            branches[g] = branches[g] + _branches(
                g, recipe, seed + 10 * i + 2 + r, recipe.dagger_episodes, behaviour
            )
        data_s += time.perf_counter() - t
        fit = recipe.fit.model_copy(update={"seed": seed + 1 + r, "steps": recipe.dagger_steps})
        rep = fit_control_model(model, episodes, branches, fit, progress=progress)
        fit_s, steps = fit_s + rep.seconds, steps + rep.steps
    calibration = _calibrate(model, graphs, recipe, seed) if recipe.calibration_episodes else {}
    if recipe.selection_seeds:
        t = time.perf_counter()
        (tau, wait), table = _select(
            model, graphs, recipe, seed, calibration.get("min_improvement_wait")
        )
        calibration.update(
            open_loop=(calibration.get("min_improvement"), calibration.get("min_improvement_wait")),
            min_improvement=tau,
            min_improvement_wait=wait,
            selection=table,
            selection_s=round(time.perf_counter() - t, 1),
        )
    info = {
        "recipe": "control model: windows + counterfactual branches, value over "
        f"{recipe.model.value_horizon} steps",
        "graphs": sorted(g.name for g in graphs),
        "transitions": sum(len(e.transitions) for d in data.values() for e in d[0]),
        "branch_sets": sum(len(b) for b in branches.values()),
        "dagger_rounds": recipe.dagger_rounds,
        "branch_rows": rep.branch_rows,
        "steps": steps,
        "data_s": round(data_s, 1),
        "fit_s": round(fit_s, 1),
        "final": {k: round(v, 4) for k, v in rep.final.items()},
        "calibration": calibration,
    }
    return model, info
