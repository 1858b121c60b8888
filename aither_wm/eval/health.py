"""Health read from the latent: a per-service linear probe and a graph-level health head.

* :class:`HealthProbe` (item 3 of the report): a linear map from the latent z to each service's
  true health (3 classes: healthy, degraded, down), one softmax per service. Its held-out accuracy
  says how much of the mesh's health the latent carries; graph-specific (one row per service).
* :class:`HealthHead`: two linear read-outs of z that do not depend on the graph's size: the
  probability that the entry-point SLO is violated, and the fraction of services that are not
  healthy. Used by :class:`HealthObjective`, a planning objective that scores predicted latents by
  predicted unhealthiness instead of distance to a goal latent.

Both are fit on frozen latents (the world model is not changed) by full-batch L-BFGS with an L2
penalty, seeded and deterministic.

Glossary: T states, N services, C = 3 health classes, D latent, S samples, H horizon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aither_wm.errors import ShapeError
from aither_wm.planning.objective import PlanObjective

__all__ = [
    "HealthHead",
    "HealthObjective",
    "HealthProbe",
    "fit_health_head",
    "fit_probe",
    "target_prior_costs",
]

NUM_CLASSES = 3


def _standardise(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mu = z.mean(0)  # [D]
    sd = z.std(0).clamp_min(1e-4) if z.shape[0] > 1 else torch.ones_like(mu)  # [D]
    return mu, sd


def _lbfgs(module: nn.Module, loss_fn: Any, steps: int) -> None:
    opt = torch.optim.LBFGS(
        module.parameters(), lr=1.0, max_iter=steps, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opt.step(closure)


class HealthProbe(nn.Module):
    """Linear probe z [T, D] -> health logits [T, N, C] (inputs standardised with train stats)."""

    mu: torch.Tensor
    sd: torch.Tensor

    def __init__(self, latent_dim: int, num_services: int) -> None:
        super().__init__()
        self.num_services = num_services
        self.linear = nn.Linear(latent_dim, num_services * NUM_CLASSES)
        self.register_buffer("mu", torch.zeros(latent_dim))
        self.register_buffer("sd", torch.ones(latent_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        T = z.shape[0]
        out = self.linear((z - self.mu) / self.sd)  # [T, N * C]
        return out.view(T, self.num_services, NUM_CLASSES)  # [T, N, C]

    @torch.no_grad()
    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """Predicted class per service. Shape: z [T, D] -> [T, N] long."""
        return self(z.float()).argmax(-1)

    @torch.no_grad()
    def score(self, z: torch.Tensor, health: torch.Tensor) -> dict[str, float]:
        """Accuracy over (state, service) pairs, the "always healthy" baseline's accuracy,
        balanced accuracy (mean per-class recall) and recall of not-healthy services.

        Shape: z [T, D]; health [T, N] long in {0, 1, 2}.
        """
        pred, y = self.predict(z), health.long()
        recalls = [
            float((pred[y == c] == c).float().mean()) for c in range(NUM_CLASSES) if (y == c).any()
        ]
        bad = y > 0
        return {
            "n": int(y.numel()),
            "accuracy": float((pred == y).float().mean()),
            "majority_accuracy": float((y == 0).float().mean()),
            "balanced_accuracy": sum(recalls) / len(recalls),
            "unhealthy_recall": float((pred[bad] > 0).float().mean())
            if bad.any()
            else float("nan"),
        }


def fit_probe(
    z: torch.Tensor, health: torch.Tensor, *, l2: float = 1e-3, steps: int = 200
) -> HealthProbe:
    """Fit a :class:`HealthProbe`. Shape: z [T, D] float; health [T, N] long in {0, 1, 2}."""
    if z.ndim != 2 or health.ndim != 2 or z.shape[0] != health.shape[0]:
        raise ShapeError(
            f"expected z [T, D] and health [T, N], got {tuple(z.shape)} and {tuple(health.shape)}"
        )
    T, D = z.shape
    N = health.shape[1]
    probe = HealthProbe(D, N)
    mu, sd = _standardise(z.float())
    probe.mu.copy_(mu)
    probe.sd.copy_(sd)
    y = health.long().reshape(-1)  # [T * N]
    zf = z.float()

    def loss() -> torch.Tensor:
        logits = probe(zf).reshape(T * N, NUM_CLASSES)  # [T * N, C]
        return F.cross_entropy(logits, y) + l2 * probe.linear.weight.square().sum()

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        nn.init.zeros_(probe.linear.weight)
        nn.init.zeros_(probe.linear.bias)
        _lbfgs(probe, loss, steps)
    return probe.eval()


class HealthHead(nn.Module):
    """Linear read-outs of health.

    * from the latent: z [..., D] -> logits [..., 2] (P(SLO violated), fraction of services not
      healthy);
    * optionally per service (``service_dim``): the encoder's service embeddings [..., N, d] ->
      P(that service is not healthy) [..., N]; graph-agnostic, like the embeddings.
    """

    mu: torch.Tensor
    sd: torch.Tensor

    def __init__(self, latent_dim: int, service_dim: int | None = None) -> None:
        super().__init__()
        self.linear = nn.Linear(latent_dim, 2)
        self.register_buffer("mu", torch.zeros(latent_dim))
        self.register_buffer("sd", torch.ones(latent_dim))
        self.service = nn.Linear(service_dim, 1) if service_dim else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits. Shape: [..., D] -> [..., 2] (SLO, unhealthy fraction)."""
        return self.linear((z - self.mu.to(z.dtype)) / self.sd.to(z.dtype))

    def probabilities(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = torch.sigmoid(self(z))  # [..., 2]
        return p[..., 0], p[..., 1]

    def service_logits(self, services: torch.Tensor) -> torch.Tensor:
        """Shape: [..., N, d] -> [..., N]."""
        if self.service is None:
            raise ShapeError("this HealthHead has no per-service read-out (service_dim=None)")
        return self.service(services).squeeze(-1)

    def service_probabilities(self, services: torch.Tensor) -> torch.Tensor:
        """P(service not healthy). Shape: [..., N, d] -> [..., N]."""
        return torch.sigmoid(self.service_logits(services))


def fit_health_head(
    z: torch.Tensor,
    violated: torch.Tensor,
    unhealthy_fraction: torch.Tensor,
    *,
    services: torch.Tensor | None = None,
    unhealthy: torch.Tensor | None = None,
    l2: float = 1e-3,
    steps: int = 200,
) -> HealthHead:
    """Fit a :class:`HealthHead` on frozen latents by logistic regression (the fraction as a soft
    label); with ``services`` and ``unhealthy`` also its per-service read-out.

    Shape: z [T, D]; violated [T] bool; unhealthy_fraction [T] in [0, 1]; services [T, N, d];
    unhealthy [T, N] bool.
    """
    if z.ndim != 2 or violated.shape != z.shape[:1] or unhealthy_fraction.shape != z.shape[:1]:
        raise ShapeError(
            f"expected z [T, D], violated [T], unhealthy_fraction [T], got {tuple(z.shape)}, "
            f"{tuple(violated.shape)}, {tuple(unhealthy_fraction.shape)}"
        )
    with_services = services is not None and unhealthy is not None
    head = HealthHead(z.shape[1], services.shape[-1] if with_services else None)  # type: ignore[union-attr]
    zf = z.float()
    mu, sd = _standardise(zf)
    head.mu.copy_(mu)
    head.sd.copy_(sd)
    target = torch.stack([violated.float(), unhealthy_fraction.float()], dim=-1)  # [T, 2]

    def loss() -> torch.Tensor:
        out = (
            F.binary_cross_entropy_with_logits(head(zf), target)
            + l2 * head.linear.weight.square().sum()
        )
        if with_services:
            assert head.service is not None and services is not None and unhealthy is not None
            out = (
                out
                + F.binary_cross_entropy_with_logits(
                    head.service_logits(services.float()), unhealthy.float()
                )
                + l2 * head.service.weight.square().sum()
            )
        return out

    for p in head.parameters():
        nn.init.zeros_(p)
    _lbfgs(head, loss, steps)
    return head.eval().requires_grad_(False)


def target_prior_costs(
    costs: torch.Tensor, target_ids: torch.Tensor, p_unhealthy: torch.Tensor, weight: float
) -> torch.Tensor:
    """Action costs plus ``weight x P(target looks healthy)``: acting on a service the per-service
    read-out finds healthy costs up to ``weight`` more (no-op, target -1, costs nothing more).

    A prior over targets, as a policy prior focuses MuZero's search: with ~100 actions and a noisy
    model, the best-looking of many useless actions otherwise wins (the optimiser's curse).

    Shape: costs [K]; target_ids [K] long (-1 for no-op); p_unhealthy [N]; returns [K].
    """
    if costs.shape != target_ids.shape or p_unhealthy.ndim != 1:
        raise ShapeError(
            f"expected costs [K], target_ids [K], p_unhealthy [N], got {tuple(costs.shape)}, "
            f"{tuple(target_ids.shape)}, {tuple(p_unhealthy.shape)}"
        )
    healthy = 1.0 - p_unhealthy.to(costs.dtype)[target_ids.clamp_min(0)]  # [K]
    return costs + weight * torch.where(target_ids >= 0, healthy, torch.zeros_like(healthy))


@dataclass(frozen=True, eq=False)
class HealthObjective(PlanObjective):
    """The shared objective with the latent "distance" replaced by predicted unhealthiness:

        d(z) = P(SLO violated | z) + unhealthy_weight * (fraction of services not healthy | z)

    so ``cost = sum_h w_h d(z_{h+1}) + sum_h c[a_h]`` counts expected violation steps; action
    costs are in the same unit (0.05: 5 % of one step's violation). ``goal`` is unused by the
    distance (kept for the shape checks every planner makes).
    """

    head: HealthHead | None = None
    unhealthy_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head is None:
            raise ShapeError("HealthObjective needs a fitted HealthHead")

    def distance(self, latents: torch.Tensor) -> torch.Tensor:
        """Shape: latents [..., D] -> [...] float32."""
        assert self.head is not None
        with torch.inference_mode():
            p_slo, frac = self.head.probabilities(latents.float())
        return p_slo + self.unhealthy_weight * frac
