"""Training the benchmark's planning model: the JEPA loss along k-step latent rollouts, plus a
health head read from every latent (encoded and predicted).

Why (measured, see docs/results.md): with the one-step recipe and the goal-latent objective the
planners acted on fault-free meshes and almost never chose a remedy. The latent carried little of
the mesh's health (a linear probe from z recalled ~20 % of unhealthy services; from the raw
features 82 %), and a remedy's benefit in this simulator shows 3-5 steps after the action
(a restarted replica warms up first), beyond a one-step model and a horizon-3 plan. So:

    L = mean_k ||z_hat_k - sg(z_k)||^2                 k = 1..K, z_hat_k = f(z_hat_{k-1}, a_{k-1})
        + lambda * SIGReg(z_0, z_1)
        + alpha * BCE(head(z_0, z_1, z_hat_1..K), [SLO violated, unhealthy fraction])
        + alpha * BCE(service_head(services of s_0, s_1), each service not healthy)

z_0 and z_1 are encoded with gradients (the one-step JEPA term of ``train.fit``); z_2..z_K are
encoded without (targets only; cheaper). The rollout conditions every step on the first state's
service embeddings, as a planner's bound dynamics does. The head (:class:`HealthHead`) is what
:class:`~aither_wm.eval.health.HealthObjective` scores rollouts with (like TD-MPC2's reward head);
its per-service read-out shapes the service embeddings every action is embedded from, and gives
the planners a prior over targets (:func:`~aither_wm.eval.health.target_prior_costs`).

Glossary: B windows, K rollout steps, N services, F features, D latent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from pydantic import Field

from aither_wm.config import FrozenConfig, TrainConfig
from aither_wm.errors import StateError
from aither_wm.eval.data import LabelledEpisode
from aither_wm.eval.health import HealthHead
from aither_wm.graph.features import GraphBatch
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.world_model import Encoded, WorldModel
from aither_wm.train.dataset import GraphTransitions
from aither_wm.train.fit import lr_at
from aither_wm.train.loss import make_regularizer

__all__ = ["HealthFitConfig", "HealthFitReport", "RolloutData", "fit_health_model"]


class HealthFitConfig(FrozenConfig):
    """Settings of :func:`fit_health_model`."""

    steps: int = Field(default=1200, ge=1)
    """Optimizer steps."""
    batch_size: int = Field(default=32, ge=2)
    """Windows of ``rollout_steps`` transitions per step."""
    rollout_steps: int = Field(default=6, ge=1, le=32)
    """K: steps of each open-loop latent rollout (about the planning horizon)."""
    head_weight: float = Field(default=1.0, ge=0.0)
    """alpha: weight of the health head's loss."""
    lr: float = Field(default=2e-3, gt=0)
    """AdamW learning rate (warm-up, then cosine to 10 %, as ``train.fit``)."""
    weight_decay: float = Field(default=1e-4, ge=0)
    """AdamW weight decay."""
    warmup_steps: int = Field(default=30, ge=0)
    """Linear learning-rate warm-up."""
    grad_clip: float = Field(default=1.0, gt=0)
    """Global gradient-norm clip."""
    lam: float = Field(default=0.1, ge=0)
    """lambda: weight of SIGReg."""
    num_slices: int = Field(default=128, ge=1)
    """SIGReg random slices per step."""
    seed: int = 0
    """Seed of initialisation, window sampling and SIGReg slices."""


@dataclass(frozen=True)
class RolloutData:
    """Windows of one graph's labelled episodes.

    Attributes:
        part: the transitions as tensors (episodes concatenated in order).
        labels: [SLO violated, unhealthy fraction] of every state, each episode's final one
            included. [R, 2] float
        rows: label row of each transition's state. [T] long
        starts: transitions where a window of K steps fits inside its episode. [W] long
        unhealthy: each state's services that are not healthy. [R, N] float
    """

    part: GraphTransitions
    labels: torch.Tensor
    rows: torch.Tensor
    starts: torch.Tensor
    unhealthy: torch.Tensor

    @staticmethod
    def build(graph: ServiceGraph, episodes: Sequence[LabelledEpisode], k: int) -> RolloutData:
        eps = [e for e in episodes if len(e.transitions) >= k]
        if not eps:
            raise StateError(f"no episode of {graph.name!r} has {k} steps for a rollout window")
        part = GraphTransitions.build(graph, [t for e in eps for t in e.transitions])
        labels, rows, starts, unhealthy, off, ti = [], [], [], [], 0, 0
        for e in eps:
            T = len(e.transitions)
            bad_services = torch.as_tensor(e.health > 0, dtype=torch.float32)  # [T + 1, N]
            unhealthy.append(bad_services)
            bad = bad_services.mean(1)  # [T + 1]
            labels.append(torch.stack([torch.as_tensor(e.violated, dtype=torch.float32), bad], 1))
            rows += [off + t for t in range(T)]
            starts += [ti + t for t in range(T - k + 1)]
            off, ti = off + T + 1, ti + T
        return RolloutData(
            part, torch.cat(labels), torch.tensor(rows), torch.tensor(starts), torch.cat(unhealthy)
        )


@dataclass
class HealthFitReport:
    """Outcome of :func:`fit_health_model`.

    Attributes:
        steps, seconds: optimizer steps and wall time.
        windows: rollout windows available for training.
        final: mean of the last 10 % of steps' losses (``pred``, ``reg``, ``head``, ``total``).
        history: per-step (total, pred, reg, head).
    """

    steps: int
    seconds: float
    windows: int
    final: dict[str, float]
    history: list[tuple[float, float, float, float]] = field(default_factory=list)


def _encode(model: WorldModel, part: GraphTransitions, x: torch.Tensor) -> Encoded:
    B, N = x.shape[:2]
    rel = part.rel.unsqueeze(0).expand(B, N, N)  # [B, N, N] view
    return model.encode(GraphBatch(x, rel, torch.ones(B, N, dtype=torch.bool)))


def fit_health_model(
    model: WorldModel,
    episodes: Mapping[ServiceGraph, Sequence[LabelledEpisode]],
    config: HealthFitConfig | None = None,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> tuple[HealthHead, HealthFitReport]:
    """Train ``model`` in place (see the module docstring) and return its fitted health head.

    Args:
        episodes: labelled episodes per graph; batches are drawn from one graph at a time, in
            proportion to its windows.
        progress: called with (step, total loss) after each step.
    """
    cfg = config or HealthFitConfig()
    K = cfg.rollout_steps
    data = [RolloutData.build(g, eps, K) for g, eps in episodes.items()]
    sizes = torch.tensor([float(d.starts.numel()) for d in data])
    head = HealthHead(model.latent_dim, model.config.encoder.d_model)
    regularizer = make_regularizer(TrainConfig(num_slices=cfg.num_slices, seed=cfg.seed))
    params = [*model.parameters(), *head.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    model.train()
    head.train()
    history: list[tuple[float, float, float, float]] = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        d = data[int(torch.multinomial(sizes, 1, generator=gen))]
        p = d.part
        s0 = d.starts[torch.randint(0, d.starts.numel(), (cfg.batch_size,), generator=gen)]  # [B]
        B = s0.shape[0]
        idx = s0[:, None] + torch.arange(K)[None, :]  # [B, K] transitions of each window
        e01 = _encode(model, p, torch.cat([p.x[s0], p.x_next[s0]]))  # 2B rows, with gradients
        z0, z1 = e01.z[:B], e01.z[B:]  # [B, D] each
        targets = [z1]
        if K > 1:
            with torch.no_grad():
                later = _encode(model, p, p.x_next[idx[:, 1:]].flatten(0, 1)).z  # [B * (K-1), D]
            targets.append(later.view(B, K - 1, -1).detach())  # [B, K - 1, D]
        target = torch.cat([targets[0][:, None], *targets[1:]], dim=1)  # [B, K, D]
        svc0 = e01.services[:B]  # [B, N, d]: every step conditions on the first state
        z_hat, preds = z0, []
        for k in range(K):
            a = model.embed_action(svc0, p.type_ids[idx[:, k]], p.target_ids[idx[:, k]])  # [B, A]
            z_hat = model.predict(z_hat, a)  # [B, D]
            preds.append(z_hat)
        z_pred = torch.stack(preds, dim=1)  # [B, K, D]
        pred = F.mse_loss(z_pred, target)
        reg = 0.5 * (regularizer(z0) + regularizer(z1))
        lab = d.labels[d.rows[s0][:, None] + torch.arange(K + 1)[None, :]]  # [B, K + 1, 2]
        bad = d.unhealthy[torch.cat([d.rows[s0], d.rows[s0] + 1])]  # [2B, N]
        head_loss = (
            F.binary_cross_entropy_with_logits(head(torch.stack([z0, z1], 1)), lab[:, :2])
            + F.binary_cross_entropy_with_logits(head(z_pred), lab[:, 1:])
            + F.binary_cross_entropy_with_logits(head.service_logits(e01.services), bad)
        ) / 3
        total = pred + cfg.lam * reg + cfg.head_weight * head_loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        row = (total.item(), pred.item(), reg.item(), head_loss.item())
        history.append(row)
        if progress is not None:
            progress(step, row[0])
    seconds = time.perf_counter() - t0
    model.eval()
    head.eval().requires_grad_(False)
    tail = history[-max(1, len(history) // 10) :]
    final = {
        k: sum(r[i] for r in tail) / len(tail)
        for i, k in enumerate(("total", "pred", "reg", "head"))
    }
    report = HealthFitReport(cfg.steps, seconds, int(sizes.sum()), final, history)
    return head, report
