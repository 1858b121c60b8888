"""What the detectors and localisers read: the model's surprise and counterfactual attribution,
and the two baselines (n-sigma detector, per-service robust z-score localiser).

Glossary: T intervals, N services, F features, M = F - STRUCT_DIM metric features, D latent.
"""

from __future__ import annotations

import numpy as np
import torch

from aither_wm.anomaly.surprise import open_loop_surprise
from aither_wm.graph.actions import ACTION_TYPES
from aither_wm.graph.features import STRUCT_DIM, GraphBatch
from aither_wm.graph.state import ActionType
from aither_wm.models.world_model import WorldModel

__all__ = [
    "encode_days",
    "noop_embedding",
    "nsigma_scores",
    "robust_z_ranking",
    "service_surprise",
    "surprise_series",
]


@torch.inference_mode()
def encode_days(
    model: WorldModel, x: torch.Tensor, rel: torch.Tensor, chunk: int = 256
) -> torch.Tensor:
    """Latents of every interval. Shape: x [T, N, F], rel [N, N] -> [T, D]."""
    model.eval()
    T, N, _ = x.shape
    out = []
    for i in range(0, T, chunk):
        xb = x[i : i + chunk]  # [B, N, F]
        B = xb.shape[0]
        batch = GraphBatch(xb, rel.unsqueeze(0).expand(B, N, N), torch.ones(B, N, dtype=torch.bool))
        out.append(model.encode(batch).z)
    return torch.cat(out)  # [T, D]


@torch.inference_mode()
def noop_embedding(model: WorldModel, x: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
    """The no-op action's embedding (it does not depend on the state's services). Shape: [1, A]."""
    N = x.shape[1]
    batch = GraphBatch(x[:1], rel.unsqueeze(0), torch.ones(1, N, dtype=torch.bool))
    services = model.encode(batch).services  # [1, N, d]
    noop = torch.tensor([ACTION_TYPES.index(ActionType.noop)])
    return model.embed_action(services, noop, torch.tensor([-1]))  # [1, A]


@torch.inference_mode()
def surprise_series(
    model: WorldModel, z: torch.Tensor, a: torch.Tensor, horizon: int
) -> np.ndarray:
    """Open-loop surprise of each interval t >= 1 (row t - 1 scores interval t).

    Shape: z [T, D], a [1, A] -> [T - 1].
    """
    T = z.shape[0]
    return open_loop_surprise(model, z[:-1], a.expand(T - 1, -1), z[1:], horizon).numpy()


@torch.inference_mode()
def service_surprise(
    model: WorldModel,
    x: torch.Tensor,
    rel: torch.Tensor,
    z: torch.Tensor,
    a: torch.Tensor,
    steps: np.ndarray,
    *,
    horizon: int,
    chunk: int = 48,
) -> np.ndarray:
    """Counterfactual per-service share of the surprise at each interval of ``steps``.

    The model's expectation for interval t is the open-loop prediction from z_{t-horizon}
    (no-op actions). For each service i the observed state at t is re-encoded with service i's
    metric features set to 0, which for standardised rolling deviations
    (:mod:`.normalise`) means "as in its own recent past"; service i's score is how much of the
    surprise ``||z_hat_t - z_t||^2 / D`` that removes. All N counterfactuals of a chunk of
    intervals are encoded in one batch.

    Shape: x [T, N, F], rel [N, N], z [T, D], a [1, A], steps [S] -> [S, N].
    """
    N = x.shape[1]
    out = []
    idx = torch.arange(N)
    for c in range(0, len(steps), chunk):
        ts = torch.as_tensor(steps[c : c + chunk], dtype=torch.long)  # [B]
        B = int(ts.shape[0])
        start = (ts - horizon).clamp_min(0)  # [B]
        zz = z[start]  # [B, D]
        for j in range(horizon):
            live = (start + j < ts).unsqueeze(-1)  # rows near the start roll fewer steps
            zz = torch.where(live, model.predict(zz, a.expand(B, -1)), zz)
        xs = x[ts].unsqueeze(1).repeat(1, N + 1, 1, 1)  # [B, N+1, N, F]; column 0 as observed
        xs[:, idx + 1, idx, STRUCT_DIM:] = 0.0  # column i+1: service i as usual
        flat = xs.reshape(B * (N + 1), N, -1)  # [B(N+1), N, F]
        batch = GraphBatch(
            flat,
            rel.unsqueeze(0).expand(flat.shape[0], N, N),
            torch.ones(flat.shape[0], N, dtype=torch.bool),
        )
        zc = model.encode(batch).z.reshape(B, N + 1, -1)  # [B, N+1, D]
        sur = (zc - zz.unsqueeze(1)).pow(2).mean(-1)  # [B, N+1]
        out.append((sur[:, :1] - sur[:, 1:]).numpy())  # [B, N]
    return np.concatenate(out) if out else np.zeros((0, N))


def robust_z_ranking(x: np.ndarray, onset: int, before: int, after: int) -> np.ndarray:
    """Per-service robust z-score: how far each service's own metrics moved in the ``after``
    intervals from ``onset`` against the ``before`` intervals before it (max over metrics of
    |median(after) - median(before)| / (1.4826 MAD(before))).

    Shape: x [T, N, F] -> [N].
    """
    m = x[..., STRUCT_DIM:]  # [T, N, M]
    pre = m[max(0, onset - before) : onset]
    post = m[onset : onset + after]
    if pre.shape[0] == 0 or post.shape[0] == 0:
        return np.zeros(m.shape[1])
    med = np.median(pre, 0)  # [N, M]
    scale = 1.4826 * np.median(np.abs(pre - med), 0) + 1e-3  # [N, M]
    return (np.abs(np.median(post, 0) - med) / scale).max(-1)  # [N]


def nsigma_scores(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Max |z| over services x metrics of each interval against a fixed mean and std (from the
    training day's fault-free intervals). Shape: x [T, N, F], mean/std [N, M] -> [T]."""
    m = x[..., STRUCT_DIM:]  # [T, N, M]
    return (np.abs(m - mean) / np.maximum(std, 1e-3)).reshape(m.shape[0], -1).max(-1)
