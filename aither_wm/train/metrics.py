"""Held-out quality of a world model: prediction error against "nothing changes", collapse signs.

Glossary: T transitions, D latent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from aither_wm.models.world_model import WorldModel
from aither_wm.regularizers import SIGReg
from aither_wm.train.dataset import GraphTransitions, TransitionDataset

__all__ = [
    "EvalReport",
    "effective_rank",
    "encode_transitions",
    "evaluate",
    "evaluate_buckets",
    "is_collapsed",
]


def is_collapsed(effective_rank: float, latent_var: float) -> bool:
    """Collapse: entropy effective rank below 2, or mean latent variance below 0.01 (SIGReg's
    target is N(0, I), variance 1; a latent shrunk to 1% of that is collapsing to a point)."""
    return effective_rank < 2.0 or latent_var < 1e-2


def effective_rank(z: torch.Tensor) -> float:
    """Entropy effective rank (Roy & Vetterli) of centred latents z [T, D]: exp(H(s / sum s))."""
    if not bool(torch.isfinite(z).all()):
        return float("nan")
    s = torch.linalg.svdvals(z - z.mean(0, keepdim=True))  # [min(T, D)]
    if float(s.sum()) <= 1e-12:
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


@dataclass(frozen=True)
class EvalReport:
    """Prediction quality on a set of transitions.

    Attributes:
        n: transitions evaluated.
        pred_mse: mean squared error of the predicted next latent.
        copy_mse: the same for the "nothing changes" prediction z_next_hat = z_t.
        ratio: pred_mse / copy_mse (< 1: the model beats "nothing changes").
        latent_var: mean per-dimension variance of the latents (0 = collapsed).
        effective_rank: entropy effective rank of the latents (out of D).
        sigreg: the reference SIGReg statistic on the latents (about 1.06 for N(0, I)).
    """

    n: int
    pred_mse: float
    copy_mse: float
    ratio: float
    latent_var: float
    effective_rank: float
    sigreg: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@torch.inference_mode()
def encode_transitions(
    model: WorldModel, part: GraphTransitions, *, chunk: int = 256
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(z_t [T, D], z_next [T, D], z_next_hat [T, D]) in eval mode."""
    was = model.training
    model.eval()
    zs, zns, zhs = [], [], []
    for i in range(0, len(part), chunk):
        b = part.batch(torch.arange(i, min(i + chunk, len(part))))
        e, en = model.encode(b.state), model.encode(b.next_state)
        a = model.embed_action(e.services, b.type_ids, b.target_ids)
        zs.append(e.z)
        zns.append(en.z)
        zhs.append(model.predict(e.z, a))
    model.train(was)
    return torch.cat(zs), torch.cat(zns), torch.cat(zhs)


def _report(z: torch.Tensor, zn: torch.Tensor, zh: torch.Tensor) -> EvalReport:
    pred = float((zh - zn).pow(2).mean())
    copy = float((z - zn).pow(2).mean())
    n = int(z.shape[0])
    sig = float(SIGReg(num_slices=256, seed=12345)(z)) if n >= 2 else float("nan")
    return EvalReport(
        n=n, pred_mse=pred, copy_mse=copy, ratio=pred / max(copy, 1e-12),
        latent_var=float(z.var(0).mean()) if n > 1 else 0.0,
        effective_rank=effective_rank(z), sigreg=sig,
    )  # fmt: skip


def evaluate(model: WorldModel, data: TransitionDataset) -> EvalReport:
    """Prediction error vs the "nothing changes" baseline, and collapse signs, over all of ``data``."""
    outs = [encode_transitions(model, p) for p in data.parts]
    return _report(*(torch.cat([o[i] for o in outs]) for i in range(3)))


def evaluate_buckets(
    model: WorldModel, data: TransitionDataset, bucket: Callable[[GraphTransitions, int], str]
) -> dict[str, EvalReport]:
    """:func:`evaluate` per bucket; ``bucket(part, row)`` names the bucket of a transition."""
    rows: dict[str, list[tuple[torch.Tensor, ...]]] = {}
    for p in data.parts:
        z, zn, zh = encode_transitions(model, p)
        for i in range(len(p)):
            rows.setdefault(bucket(p, i), []).append((z[i], zn[i], zh[i]))
    return {
        k: _report(*(torch.stack([r[j] for r in v]) for j in range(3)))
        for k, v in sorted(rows.items())
    }
