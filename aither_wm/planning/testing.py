"""Latent dynamics test doubles for planners: a random MLP and a model with a known optimum.

Both satisfy :class:`~aither_wm.types.LatentDynamics` and use the flat action layout of
``aither_wm.graph.actions`` (0 noop, ``1 + t * N + i`` = targeted type t+1 on service i).

Glossary: B batch, D latent size, K flat actions, N services, E action embedding size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from aither_wm.errors import ConfigError, ShapeError

__all__ = ["KnownOptimumDynamics", "MLPDynamics"]

_NUM_TARGETED_TYPES = 4


class MLPDynamics:
    """A random 2-layer residual MLP predictor ``z' = z + W2 relu(W1 [z; e_a] + b1) + b2``.

    The action half of the first layer is folded into a per-action table
    ``T = e @ W1_a^T + b1`` ([K, hidden]), so a step is two matmuls and a gather:
    ``relu(z @ W1_z^T + T[a]) @ W2^T``. Weights are drawn from a seeded generator: pre-activations
    have unit variance for unit-variance latents and ``step_scale`` sets the std of an update.

    Args:
        num_actions: K.
        latent_dim: D.
        hidden_dim: width of the hidden layer.
        embed_dim: E, size of the per-action embedding.
        step_scale: std of one update per latent dimension (for unit-variance inputs).
        seed: seed of the weights.
        dtype: compute dtype (bfloat16 uses AMX/AVX-512 where the CPU has it).
        pad_rows: batches are padded to a multiple of this many rows (default 32 in bfloat16,
            where oneDNN compiles a kernel per batch shape, else 1).
    """

    def __init__(
        self,
        *,
        num_actions: int,
        latent_dim: int = 256,
        hidden_dim: int = 512,
        embed_dim: int = 64,
        step_scale: float = 0.3,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        pad_rows: int | None = None,
    ) -> None:
        if min(num_actions, latent_dim, hidden_dim, embed_dim) < 1:
            raise ConfigError("num_actions, latent_dim, hidden_dim and embed_dim must be >= 1")
        self.num_actions = int(num_actions)
        self.latent_dim = int(latent_dim)
        self.dtype = dtype
        self.pad_rows = pad_rows or (32 if dtype == torch.bfloat16 else 1)
        g = torch.Generator().manual_seed(int(seed))
        fan_in = latent_dim + embed_dim
        emb = torch.randn(num_actions, embed_dim, generator=g)  # [K, E]
        w1 = torch.randn(hidden_dim, fan_in, generator=g) / math.sqrt(fan_in)  # [hidden, D + E]
        b1 = 0.1 * torch.randn(hidden_dim, generator=g)  # [hidden]
        w2 = torch.randn(latent_dim, hidden_dim, generator=g) * (
            step_scale * math.sqrt(2.0 / hidden_dim)
        )  # [D, hidden]
        b2 = 0.01 * torch.randn(latent_dim, generator=g)  # [D]
        self._w1z_t = w1[:, :latent_dim].T.contiguous().to(dtype)  # [D, hidden]
        self._table = (emb @ w1[:, latent_dim:].T + b1).to(dtype)  # [K, hidden] folded
        self._w2_t = w2.T.contiguous().to(dtype)  # [hidden, D]
        self._b2 = b2.to(dtype)  # [D]

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Shape: z [B, D]; actions [B] long; returns [B, D] in ``dtype``."""
        B = z.shape[0]
        z = z.to(self.dtype)
        pad = -B % self.pad_rows
        if pad:  # few distinct shapes: oneDNN builds (slowly) one kernel per shape in bf16
            z = torch.cat([z, z[-1:].expand(pad, -1)])  # [B', D]
            actions = torch.cat([actions, actions[-1:].expand(pad)])  # [B']
        h = torch.addmm(
            self._table.index_select(0, actions), z, self._w1z_t
        ).relu_()  # [B', hidden]
        out = torch.addmm(z + self._b2, h, self._w2_t)  # [B', D]
        return out[:B] if pad else out  # [B, D]


class KnownOptimumDynamics:
    """A hand-built latent model whose best plan is known.

    Each of N services owns ``dims_per_service`` latent dimensions holding its fault level (0 =
    healthy, the goal is the zero latent). Service i has one fixing action, ``fix_types[i]`` on
    service i, which zeroes its dimensions. Every other targeted action on service i adds ``harm``
    to them; noop changes nothing. So the optimum is to fix the most faulty service first, each
    faulty service once, and otherwise wait.

    Args:
        num_services: N; K = 1 + 4 N, D = N * dims_per_service.
        fix_types: type id (1 restart, 2 scale_out, 3 scale_in, 4 rollback) of each service's fix;
            an int applies to every service.
        dims_per_service: latent dimensions per service.
        harm: fault added to a service by a targeted action that does not fix it.
    """

    def __init__(
        self,
        *,
        num_services: int,
        fix_types: int | Sequence[int] = 1,
        dims_per_service: int = 2,
        harm: float = 0.0,
    ) -> None:
        if num_services < 1 or dims_per_service < 1:
            raise ConfigError("num_services and dims_per_service must be >= 1")
        types = [fix_types] * num_services if isinstance(fix_types, int) else list(fix_types)
        if len(types) != num_services or any(not 1 <= t <= _NUM_TARGETED_TYPES for t in types):
            raise ConfigError(f"fix_types must give a type id in 1..4 per service, got {types}")
        N, P = num_services, dims_per_service
        self.num_services = N
        self.dims_per_service = P
        self.num_actions = 1 + _NUM_TARGETED_TYPES * N
        self.latent_dim = N * P
        self.fix_types = tuple(types)
        keep = torch.ones(self.num_actions, self.latent_dim)  # [K, D]
        add = torch.zeros(self.num_actions, self.latent_dim)  # [K, D]
        for i in range(N):
            dims = slice(i * P, (i + 1) * P)
            for t in range(_NUM_TARGETED_TYPES):
                a = 1 + t * N + i
                if t + 1 == types[i]:
                    keep[a, dims] = 0.0
                else:
                    add[a, dims] = harm
        self._keep, self._add = keep, add

    def fixing_action(self, service: int) -> int:
        """Flat index of the action that fixes ``service``."""
        return 1 + (self.fix_types[service] - 1) * self.num_services + service

    def faulty_latent(self, faults: Mapping[int, float]) -> torch.Tensor:
        """Latent with fault level ``faults[i]`` on service i, 0 elsewhere. Shape: returns [D]."""
        z = torch.zeros(self.latent_dim)
        for i, level in faults.items():
            if not 0 <= i < self.num_services:
                raise ConfigError(f"service {i} out of range [0, {self.num_services})")
            z[i * self.dims_per_service : (i + 1) * self.dims_per_service] = float(level)
        return z

    def goal(self) -> torch.Tensor:
        """The healthy latent. Shape: returns [D]."""
        return torch.zeros(self.latent_dim)

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Shape: z [B, D]; actions [B] long; returns [B, D]."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim or actions.shape != (z.shape[0],):
            raise ShapeError(
                f"expected z [B, {self.latent_dim}] and actions [B], got {tuple(z.shape)} and "
                f"{tuple(actions.shape)}"
            )
        return z * self._keep[actions] + self._add[actions]  # [B, D]
