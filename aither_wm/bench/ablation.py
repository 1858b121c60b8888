"""``aither-wm bench ablation``: the same model, the same transitions, four anti-collapse setups.

Replaces the seed's unmeasured "Phase 3" table with a measured one:

* ``sigreg``: prediction loss + lambda * SIGReg, no EMA, no stop-gradient (the default; LeWM);
* ``sigreg_ema_stopgrad``: the same plus an EMA target encoder and a detached target;
* ``none``: prediction loss only, no EMA (the collapse-prone setup);
* ``vicreg``: prediction loss + lambda * the variance/covariance penalty.

Reported per setup: final training prediction loss, held-out prediction error ratio against
"nothing changes", effective rank and variance of held-out latents, reference SIGReg value, and
whether it collapsed: effective rank < 2, or mean latent variance < 0.01 (SIGReg's target is
N(0, I), variance 1; a latent shrunk to 1% of that is collapsing to a point, and "wins" on
prediction loss by predicting a near-constant).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aither_wm.config import TrainConfig, WorldModelConfig
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.world_model import WorldModel
from aither_wm.train.dataset import TransitionDataset
from aither_wm.train.fit import StepInfo, fit
from aither_wm.train.metrics import is_collapsed

__all__ = ["SETUPS", "is_collapsed", "run_ablation"]

SETUPS: dict[str, dict[str, object]] = {
    "sigreg": {"regularizer": "sigreg"},
    "sigreg_ema_stopgrad": {"regularizer": "sigreg", "use_ema_target": True, "use_stop_grad": True},
    "none": {"regularizer": "none"},
    "vicreg": {"regularizer": "vicreg"},
}


def run_ablation(
    graph: ServiceGraph,
    data: TransitionDataset,
    *,
    model_config: WorldModelConfig | None = None,
    train_config: TrainConfig | None = None,
    setups: tuple[str, ...] = tuple(SETUPS),
    progress: Callable[[str, StepInfo], None] | None = None,
) -> dict:
    """Train one fresh model per setup (same seed, same data) and report the table as a dict."""
    base = train_config or TrainConfig(steps=300)
    train, held = data.split(base.holdout_fraction or 0.2)
    if held is None:
        raise ValueError("the ablation needs held-out data (holdout_fraction > 0)")
    rows = []
    for name in setups:
        cfg = base.model_copy(update=SETUPS[name])
        torch.manual_seed(cfg.seed)
        model = WorldModel(model_config)
        cb = (lambda info, n=name: progress(n, info)) if progress else None
        rep = fit(model, train, cfg, holdout=held, progress=cb)
        ev = rep.holdout_eval
        assert ev is not None
        rows.append(
            {
                "setup": name,
                "final_pred_loss": rep.final["pred"],
                "final_reg": rep.final["reg"],
                "holdout_ratio_vs_copy": ev.ratio,
                "effective_rank": ev.effective_rank,
                "latent_var": ev.latent_var,
                "sigreg": ev.sigreg,
                "collapsed": is_collapsed(ev.effective_rank, ev.latent_var),
                "seconds": rep.seconds,
            }
        )
    return {
        "graph": graph.name,
        "transitions": len(data),
        "steps": base.steps,
        "lam": base.lam,
        "latent_dim": (model_config or WorldModelConfig()).projector.latent_dim,
        "rows": rows,
    }


def format_ablation(result: dict) -> str:
    head = "| setup | pred loss | held-out ratio vs copy | eff. rank | latent var | SIGReg | collapsed |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['setup']} | {r['final_pred_loss']:.4g} | {r['holdout_ratio_vs_copy']:.3f} | "
            f"{r['effective_rank']:.1f} | {r['latent_var']:.3g} | {r['sigreg']:.3g} | {r['collapsed']} |"
        )
    return "\n".join(lines)
