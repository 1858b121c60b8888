"""``aither-wm bench worldmodel``: the world model trained on simulator transitions, judged on
held-out episodes against the "nothing changes" baseline, bucketed so an aggregate cannot hide a
failure: fault-free steps, steps under fault types seen in training, and under unseen ones.

Training episodes draw faults from ``seen`` only; held-out episodes (another seed) draw from every
fault type. A transition's bucket is ``no_fault``, ``seen:<fault>`` or ``unseen:<fault>``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from aither_wm.config import TrainConfig, WorldModelConfig
from aither_wm.graph.schema import load_graph
from aither_wm.models.world_model import WorldModel
from aither_wm.train import TransitionDataset, evaluate, evaluate_buckets, fit
from aither_wm.train.dataset import GraphTransitions
from aither_wm.train.fit import StepInfo

__all__ = ["DEFAULT_SEEN", "run_worldmodel_bench"]

#: Fault types the model trains on by default; the other five are held out.
DEFAULT_SEEN = ("memory_leak", "cpu_saturation", "bad_deploy", "cache_down", "pod_kill")


def run_worldmodel_bench(
    graph_path: Path,
    *,
    seed: int = 0,
    seen: tuple[str, ...] = DEFAULT_SEEN,
    train_episodes: int = 40,
    test_episodes: int = 40,
    episode_steps: int = 60,
    train_config: TrainConfig | None = None,
    model_config: WorldModelConfig | None = None,
    progress: Callable[[StepInfo], None] | None = None,
) -> dict[str, Any]:
    from aither_wm.sim.faults import FAULTS
    from aither_wm.sim.scenarios import generate_transitions

    graph = load_graph(graph_path)
    graphs = {graph.name: graph}
    unknown = sorted(set(seen) - set(FAULTS))
    if unknown:
        raise ValueError(f"unknown fault names in seen: {unknown}")
    train_tr = list(
        generate_transitions(
            graph, episodes=train_episodes, steps=episode_steps, seed=seed, faults=list(seen)
        )
    )
    test_tr = list(
        generate_transitions(graph, episodes=test_episodes, steps=episode_steps, seed=seed + 10_000)
    )
    train = TransitionDataset.from_transitions(train_tr, graphs)
    test = TransitionDataset.from_transitions(test_tr, graphs)
    cfg = train_config or TrainConfig(steps=400, seed=seed)
    torch.manual_seed(cfg.seed)
    model = WorldModel(model_config)
    rep = fit(model, train, cfg, progress=progress)

    def bucket(part: GraphTransitions, i: int) -> str:
        labels = part.faults[i]
        if not labels:
            return "no_fault"
        name = labels[0].split(":")[0]
        return f"{'seen' if name in seen else 'unseen'}:{name}"

    buckets = evaluate_buckets(model, test, bucket)
    return {
        "graph": graph.name,
        "seen_faults": list(seen),
        "unseen_faults": sorted(set(FAULTS) - set(seen)),
        "train_transitions": len(train),
        "test_transitions": len(test),
        "train_steps": rep.steps,
        "train_seconds": rep.seconds,
        "transitions_per_s": rep.transitions_per_s,
        "overall": evaluate(model, test).to_dict(),
        "buckets": {k: v.to_dict() for k, v in buckets.items()},
    }


def format_worldmodel(result: dict[str, Any]) -> str:
    lines = ["| bucket | n | pred MSE | copy MSE | ratio |", "|---|---|---|---|---|"]
    rows = [("overall", result["overall"]), *result["buckets"].items()]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['n']} | {r['pred_mse']:.4g} | {r['copy_mse']:.4g} | {r['ratio']:.3f} |"
        )
    return "\n".join(lines)
