"""``aither-wm bench planners``: CEM, MCTS and beam on a *trained* world model.

Decisions are real: states from simulated fault episodes on the graph, each bound to the model
(``MeshWorldModel.decision``), with the shared objective (goal latent = healthy version of the
state). When no checkpoint is given a small model is trained first on simulated transitions.
The timing harness is :func:`aither_wm.bench.planners.bench_planners`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from aither_wm.bench.planners import PlanProblem, bench_planners
from aither_wm.config import TrainConfig
from aither_wm.graph.schema import load_graph
from aither_wm.models.mesh_model import MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.planning import PlanObjective, action_costs
from aither_wm.train import TransitionDataset, fit, load_checkpoint

__all__ = ["run_planners_bench"]


def run_planners_bench(
    graph_path: Path,
    *,
    checkpoint: str | Path | None = None,
    seed: int = 0,
    num_problems: int = 6,
    decisions: int = 100,
    train_steps: int = 300,
) -> dict[str, Any]:
    from aither_wm.sim.scenarios import generate_transitions

    graph = load_graph(graph_path)
    transitions = list(generate_transitions(graph, episodes=30, steps=60, seed=seed))
    if checkpoint is not None:
        model = load_checkpoint(checkpoint).model
        trained = {"checkpoint": str(checkpoint)}
    else:
        torch.manual_seed(seed)
        model = WorldModel()
        data = TransitionDataset.from_transitions(transitions, {graph.name: graph})
        train, held = data.split(0.2)
        rep = fit(model, train, TrainConfig(steps=train_steps, seed=seed), holdout=held)
        trained = {
            "trained_steps": train_steps,
            "holdout_ratio": rep.holdout_eval.ratio if rep.holdout_eval else None,
        }
    mesh = MeshWorldModel(model)
    faulty = [t.state for t in transitions if t.faults]
    step = max(1, len(faulty) // num_problems)
    problems = []
    for state in faulty[::step][:num_problems]:
        d = mesh.decision(graph, state)
        obj = PlanObjective(goal=d.goal, action_cost=action_costs(d.type_ids))
        problems.append(
            PlanProblem(
                dynamics=d.dynamics, z0=d.z0, objective=obj, mask=d.mask, name=f"step{state.step}"
            )
        )
    # the exhaustive H3 oracle needs 1.2M rows per problem at K = 105: a 100k-row wide beam instead
    result = bench_planners(problems, decisions=decisions, seed=seed, oracle_max_rows=100_000)
    return {
        "graph": graph.name,
        "services": graph.num_services,
        "actions": problems[0].mask.numel(),
        **trained,
        **result,
    }
