"""``aither-wm tune lambda``: the lambda search with each round's trials as parallel Ray tasks.

A trial trains a fresh world model at one lambda on the same transitions (held in the object
store once) and judges it with :func:`aither_wm.train.tune.judge`; the search itself is
:func:`aither_wm.train.tune.bisect_lambda` (pure, tested without Ray).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ray
import torch

from aither_wm.config import TrainConfig, WorldModelConfig
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Transition
from aither_wm.models.world_model import WorldModel
from aither_wm.train import TransitionDataset, fit
from aither_wm.train.tune import TrialOutcome, TuneResult, bisect_lambda, judge

__all__ = ["run_trial", "tune_lambda"]


def run_trial(
    lam: float,
    graph: ServiceGraph,
    transitions: Sequence[Transition],
    model_config: WorldModelConfig,
    train_config: TrainConfig,
) -> TrialOutcome:
    """Train at ``lam`` and judge the result (plain function: runs in-process or as a task)."""
    torch.set_num_threads(1)
    data = TransitionDataset.from_transitions(transitions, {graph.name: graph})
    train, held = data.split(train_config.holdout_fraction or 0.2)
    cfg = train_config.model_copy(update={"lam": float(lam)})
    torch.manual_seed(cfg.seed)
    model = WorldModel(model_config)
    rep = fit(model, train, cfg, holdout=held)
    ev = rep.holdout_eval
    assert ev is not None
    verdict = (
        judge(
            effective_rank=ev.effective_rank,
            train_sigreg=rep.final["reg"],
            batch_size=cfg.batch_size,
            ratio=ev.ratio,
            latent_dim=model_config.projector.latent_dim,
        )
        if not rep.diverged
        else "collapsed"
    )
    return TrialOutcome(
        lam=float(lam),
        verdict=verdict,
        score=ev.ratio,
        metrics={
            "ratio": ev.ratio,
            "effective_rank": ev.effective_rank,
            "train_sigreg": rep.final["reg"],
            "latent_var": ev.latent_var,
            "seconds": rep.seconds,
        },
    )


_remote_trial = ray.remote(num_cpus=1, max_retries=0)(run_trial)


def tune_lambda(
    graph: ServiceGraph,
    transitions: Sequence[Transition],
    *,
    model_config: WorldModelConfig | None = None,
    train_config: TrainConfig | None = None,
    max_trials: int = 10,
    parallel: int = 2,
    lo: float = 1e-3,
    hi: float = 10.0,
) -> dict[str, Any]:
    """Run the search on the Ray session of this process (start one with ``RayHost`` first)."""
    mcfg = model_config or WorldModelConfig()
    tcfg = train_config or TrainConfig(steps=200)
    graph_ref, data_ref = ray.put(graph), ray.put(list(transitions))

    def run_round(points: Sequence[float]) -> list[TrialOutcome]:
        refs = [_remote_trial.remote(p, graph_ref, data_ref, mcfg, tcfg) for p in points]
        return list(ray.get(refs))

    result: TuneResult = bisect_lambda(
        run_round, lo=lo, hi=hi, max_trials=max_trials, parallel=parallel
    )
    return {
        "graph": graph.name,
        "pick": result.pick,
        "accepted": result.accepted,
        "interval": list(result.interval),
        "trials": [{"lam": t.lam, "verdict": t.verdict, **t.metrics} for t in result.trials],
    }
