"""The fit loop: AdamW, warm-up + cosine schedule, gradient clipping, seeded batches.

``fit`` trains in place and returns a :class:`FitReport`; it prints nothing (a ``progress``
callback receives each step's numbers, the CLI turns them into a progress bar).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch

from aither_wm.config import TrainConfig
from aither_wm.errors import ConfigError
from aither_wm.models.world_model import WorldModel
from aither_wm.train.dataset import TransitionDataset
from aither_wm.train.loss import EMATarget, make_regularizer, world_model_loss
from aither_wm.train.metrics import EvalReport, evaluate

__all__ = ["FitReport", "Schedule", "StepInfo", "fit", "lr_at"]


@dataclass(frozen=True)
class StepInfo:
    """What one optimizer step reports to a progress callback."""

    step: int
    total: float
    pred: float
    reg: float
    lr: float


@dataclass
class FitReport:
    """Outcome of :func:`fit`.

    Attributes:
        steps: optimizer steps taken.
        seconds: wall time of the loop.
        transitions_per_s: training throughput (batch_size * steps / seconds).
        final: mean of the last 10% of steps' (total, pred, reg) losses.
        diverged: the loss became non-finite; training stopped at that step (weights unusable).
        train_eval / holdout_eval: held-out style evaluation on the training and held-out data.
        history: per-step (total, pred, reg).
    """

    steps: int
    seconds: float
    transitions_per_s: float
    final: dict[str, float]
    train_eval: EvalReport | None = None
    holdout_eval: EvalReport | None = None
    history: list[tuple[float, float, float]] = field(default_factory=list)
    diverged: bool = False


class Schedule(Protocol):
    """What :func:`lr_at` reads from a training config."""

    lr: float
    warmup_steps: int
    steps: int


def lr_at(step: int, cfg: Schedule) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine down to 10 % of ``cfg.lr`` (every
    training loop of the project uses this schedule)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac))))


def fit(
    model: WorldModel,
    train: TransitionDataset,
    config: TrainConfig,
    *,
    holdout: TransitionDataset | None = None,
    progress: Callable[[StepInfo], None] | None = None,
    evaluate_train: bool = False,
) -> FitReport:
    """Train ``model`` on ``train`` for ``config.steps`` steps (in place)."""
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {config.device!r} asked for, but torch sees no CUDA device")
    model.to(device).train()
    gen = torch.Generator().manual_seed(config.seed)
    regularizer = make_regularizer(config)
    ema = EMATarget(model, config.ema_decay).to(device) if config.use_ema_target else None
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history: list[tuple[float, float, float]] = []
    diverged = False
    t0 = time.perf_counter()
    for step in range(config.steps):
        lr = lr_at(step, config)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = train.sample(config.batch_size, gen)
        if device.type != "cpu":
            batch = type(batch)(batch.state.to(device), batch.next_state.to(device),
                                batch.type_ids.to(device), batch.target_ids.to(device))  # fmt: skip
        parts = world_model_loss(
            model, batch, regularizer, config.lam, ema=ema, use_stop_grad=config.use_stop_grad
        )
        if not torch.isfinite(parts.total):
            diverged = True
            break
        opt.zero_grad(set_to_none=True)
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        if ema is not None:
            ema.update(model)
        row = (parts.total.item(), parts.pred.item(), parts.reg.item())
        history.append(row)
        if progress is not None:
            progress(StepInfo(step=step, total=row[0], pred=row[1], reg=row[2], lr=lr))
    seconds = time.perf_counter() - t0
    model.cpu()
    tail = history[-max(1, len(history) // 10) :] or [(math.nan, math.nan, math.nan)]
    final = {k: sum(r[i] for r in tail) / len(tail) for i, k in enumerate(("total", "pred", "reg"))}
    return FitReport(
        steps=len(history),
        seconds=seconds,
        transitions_per_s=config.batch_size * len(history) / max(seconds, 1e-9),
        final=final,
        train_eval=evaluate(model, train) if evaluate_train else None,
        holdout_eval=evaluate(model, holdout) if holdout is not None else None,
        history=history,
        diverged=diverged,
    )
