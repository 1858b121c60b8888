"""``aither-wm bench train``: SIGReg's share of a full training step, and training throughput.

One run, one process, the default model: a full step (forward of 2B states, predictor, loss,
backward, clip, AdamW) is timed with SIGReg and with no regulariser; SIGReg's own forward+backward
on a [B, D] latent is timed alone. Shares are reported as ratios (the machine is noisy).
"""

from __future__ import annotations

import statistics
import time

import torch

from aither_wm.config import TrainConfig, WorldModelConfig
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.world_model import WorldModel
from aither_wm.regularizers import SIGReg
from aither_wm.train.dataset import TransitionDataset
from aither_wm.train.loss import make_regularizer, world_model_loss

__all__ = ["run_train_bench"]


def _time_steps(
    model: WorldModel, data: TransitionDataset, cfg: TrainConfig, repeats: int
) -> list[float]:
    gen = torch.Generator().manual_seed(0)
    reg = make_regularizer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    out = []
    for i in range(repeats + 2):
        batch = data.sample(cfg.batch_size, gen)
        t = time.perf_counter()
        parts = world_model_loss(model, batch, reg, cfg.lam)
        opt.zero_grad(set_to_none=True)
        parts.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i >= 2:  # warm-up
            out.append(time.perf_counter() - t)
    return out


def run_train_bench(
    graph: ServiceGraph,
    data: TransitionDataset,
    *,
    batch_size: int = 64,
    num_slices: int = 256,
    repeats: int = 15,
) -> dict:
    model = WorldModel(WorldModelConfig()).train()
    with_sig = TrainConfig(batch_size=batch_size, num_slices=num_slices)
    without = with_sig.model_copy(update={"regularizer": "none"})
    t_sig, t_none = [], []
    for _ in range(3):  # interleave to share the machine's noise
        t_sig += _time_steps(model, data, with_sig, repeats // 3)
        t_none += _time_steps(model, data, without, repeats // 3)
    D = model.latent_dim
    sig = SIGReg(num_slices=num_slices)
    z = torch.randn(batch_size, D, requires_grad=True)
    alone = []
    for i in range(30):
        t = time.perf_counter()
        # two calls per step (z_t and z_next), as in the training loss
        (sig(z) + sig(z)).backward()
        if i >= 5:
            alone.append(time.perf_counter() - t)
    step_ms = statistics.median(t_sig) * 1e3
    none_ms = statistics.median(t_none) * 1e3
    sig_ms = statistics.median(alone) * 1e3
    return {
        "graph": graph.name,
        "services": graph.num_services,
        "batch_size": batch_size,
        "latent_dim": D,
        "num_slices": num_slices,
        "torch_threads": torch.get_num_threads(),
        "params_millions": sum(p.numel() for p in model.parameters()) / 1e6,
        "step_ms_with_sigreg": step_ms,
        "step_ms_without_regularizer": none_ms,
        "sigreg_fwd_bwd_ms": sig_ms,
        "sigreg_share_of_step": sig_ms / step_ms,
        "sigreg_share_by_difference": max(0.0, step_ms - none_ms) / step_ms,
        "transitions_per_s": batch_size / (step_ms / 1e3),
    }
