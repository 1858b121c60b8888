"""PackedPredictor: the predictor's latent path, packed once per decision for planners.

A planner steps ~300-1,500 latents per decision through the same predictor with one state's
action table, so everything that does not depend on the latent is done once, when the model is
bound to the decision:

- the per-action AdaLN table is gathered as one [K, blocks, 3, W] tensor with ``1 + scale``
  precomputed (``modulate`` becomes one ``addcmul``), and the gated residual is an ``addcmul``;
- the output LayerNorm's affine is folded into the output layer
  (``out(g * n + b) = (W_out * g) n + (W_out b + b_out)``);
- weights are transposed once and cast to the planning precision.

Precision (``"fp32"`` or ``"bf16"``): in bf16 the matmuls, norms and activations run in bfloat16
(on CPUs with AMX or AVX512-BF16 about 2x faster than fp32 per row); the latent itself and the
residual ``z + delta`` stay float32, so errors do not accumulate over a rollout. fp32 packing
matches ``LatentPredictor.forward_conditioned`` to float rounding (about 1e-6); bf16 to about 1e-2
on a trained model's latents, and `aither-wm bench planners` reports what that does to regret.
``"auto"`` picks bf16 where the hardware runs it natively (CUDA with bf16, CPUs with AMX or
AVX512-BF16: bf16 emulated on other CPUs is slower than fp32) and the predictor is wide enough
for matmuls to dominate (hidden width >= :data:`AUTO_BF16_MIN_WIDTH`), else fp32.

Glossary: B rows, D latent, K flat actions, W hidden width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from aither_wm.errors import ConfigError, ShapeError
from aither_wm.models.predictor import LatentPredictor

__all__ = [
    "AUTO_BF16_MIN_WIDTH",
    "MIN_BF16_ROWS",
    "PRECISIONS",
    "PackedPredictor",
    "Precision",
    "native_bf16",
    "padded_rows",
    "resolve_precision",
]

#: Planning precision: the dtype of a packed predictor's matmuls ("auto" is resolved per device).
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` runs bfloat16 matmuls natively (faster than float32)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return False


#: "auto" packs in bf16 only from this predictor width: measured on one CPU thread over a CEM
#: decision's batches, width 256 x 2 blocks ran 1.8x faster in bf16, width 128 no faster (the
#: norms, activations and casts cost as much as the matmuls saved).
AUTO_BF16_MIN_WIDTH = 256


def resolve_precision(
    precision: str, device: torch.device | str = "cpu", width: int = AUTO_BF16_MIN_WIDTH
) -> Literal["fp32", "bf16"]:
    """``"auto"`` -> ``"bf16"`` where :func:`native_bf16` and ``width >= AUTO_BF16_MIN_WIDTH``,
    else ``"fp32"``; ``"fp32"`` and ``"bf16"`` pass through."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if width >= AUTO_BF16_MIN_WIDTH and native_bf16(device) else "fp32"
    return precision  # type: ignore[return-value]


def padded_rows(rows: int) -> int:
    """Row count a bf16 batch is padded to: a multiple of 32 up to 512, then of 128.

    oneDNN builds a bf16 matmul kernel for every new row count (measured 3-8 ms each on this
    project's CPU, more than the matmul itself), and planners call the model with a different
    count almost every time (the number of distinct prefixes). Padding to a few dozen buckets
    makes every count after the first few decisions a cache hit, for at most 1/8 more rows once
    past 256 (the padding rows repeat the first row and are dropped).
    """
    step = 32 if rows <= 512 else 128
    return max(step, -(-rows // step) * step)


@dataclass(frozen=True)
class _Weights:
    """The packed tensors in one dtype."""

    table: torch.Tensor  # [K, blocks * 3 * W], (shift, 1 + scale, gate) per block
    inp: tuple[torch.Tensor, torch.Tensor]  # weight [D, W], bias [W]
    blocks: tuple[
        tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], ...
    ]  # [W, 2W], [2W], [2W, W], [W]
    out: tuple[torch.Tensor, torch.Tensor]  # weight [W, D] with the norm's gain, bias [D]

    def to(self, dtype: torch.dtype) -> _Weights:
        def cast(ts: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            return tuple(t.detach().to(dtype, copy=True).contiguous() for t in ts)

        return _Weights(
            table=self.table.detach().to(dtype, copy=True).contiguous(),
            inp=cast(self.inp),  # type: ignore[arg-type]
            blocks=tuple(cast(b) for b in self.blocks),  # type: ignore[misc]
            out=cast(self.out),  # type: ignore[arg-type]
        )


#: Below this many rows a bf16 predictor runs its fp32 copy: bf16 matmuls gain nothing on a few
#: rows and the padding to :func:`padded_rows` would cost more than it saves (measured: 1 row
#: 0.7 ms in bf16 vs 0.35 ms in fp32; 16 rows equal; 300 rows 2.3 ms vs 4.2 ms).
MIN_BF16_ROWS = 48


class PackedPredictor:
    """``step(z [B, D], actions [B]) -> [B, D]``: the predictor bound to one action table.

    Built from a :class:`LatentPredictor` and its conditioning table for the K flat actions
    (``predictor.condition(action_embeddings)``, [K, 3 * blocks * W]). Inference only: the packed
    tensors are copies, later changes to the predictor's weights do not reach them. In bf16, calls
    with fewer than :data:`MIN_BF16_ROWS` rows run in fp32 (so a plan's final scoring, one
    sequence, is fp32), larger ones are padded to :func:`padded_rows`.
    """

    def __init__(
        self, predictor: LatentPredictor, table: torch.Tensor, precision: str = "fp32"
    ) -> None:
        W, nb = predictor.config.hidden_dim, len(predictor.blocks)
        if table.dim() != 2 or table.shape[1] != 3 * nb * W:
            raise ShapeError(f"table must be [K, {3 * nb * W}], got {tuple(table.shape)}")
        self.precision = resolve_precision(precision, table.device, W)
        self.width, self.num_blocks = W, nb
        self.latent_dim = predictor.latent_dim
        with torch.no_grad():
            mod = (
                table.detach().float().reshape(-1, nb, 3, W).clone()
            )  # [K, blocks, (shift, scale, gate), W]
            mod[:, :, 1] += 1.0
            g, beta = predictor.out_norm.weight, predictor.out_norm.bias  # [W]
            w_out, b_out = predictor.out.weight, predictor.out.bias  # [D, W], [D]
            fp32 = _Weights(
                table=mod.reshape(table.shape[0], -1),
                inp=(predictor.inp.weight.t(), predictor.inp.bias),
                blocks=tuple(
                    (b.mlp[0].weight.t(), b.mlp[0].bias, b.mlp[2].weight.t(), b.mlp[2].bias)
                    for b in predictor.blocks
                ),
                out=((w_out * g).t(), b_out + w_out @ beta),
            ).to(torch.float32)
        self._fp32 = fp32
        self._bf16 = fp32.to(torch.bfloat16) if self.precision == "bf16" else None
        self._eps = (predictor.out_norm.eps, [b.norm.eps for b in predictor.blocks])
        # each block's own activation module, called past nn.Module's hook dispatch
        self._acts = [b.mlp[1].forward for b in predictor.blocks]

    @property
    def num_actions(self) -> int:
        """K."""
        return int(self._fp32.table.shape[0])

    def step(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Shape: z [B, D] float; actions [B] long in [0, K) -> [B, D] in z's dtype."""
        B = z.shape[0]
        if self._bf16 is None or B < MIN_BF16_ROWS:
            return self._step(self._fp32, z, actions)
        P = padded_rows(B)
        if P != B:  # pad to a bucket: see padded_rows
            z = torch.cat([z, z[:1].expand(P - B, -1)])
            actions = torch.cat([actions, actions[:1].expand(P - B)])
        return self._step(self._bf16, z, actions)[:B]

    def _step(self, w: _Weights, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        W, nb = self.width, self.num_blocks
        dt = w.table.dtype
        cond = w.table.index_select(0, actions).view(-1, nb, 3, W)  # [B, blocks, 3, W]
        x = z if z.dtype == dt and z.is_contiguous() else z.to(dt).contiguous()
        h = torch.addmm(w.inp[1], x, w.inp[0])  # [B, W]
        for i, (w1, b1, w2, b2) in enumerate(w.blocks):
            x = torch.layer_norm(h, (W,), None, None, self._eps[1][i])  # [B, W]
            x = torch.addcmul(cond[:, i, 0], x, cond[:, i, 1])  # shift + norm * (1 + scale)
            x = self._acts[i](torch.addmm(b1, x, w1))  # [B, 2W]
            h = torch.addcmul(h, cond[:, i, 2], torch.addmm(b2, x, w2))  # h + gate * mlp
        x = torch.layer_norm(h, (W,), None, None, self._eps[0])  # F.layer_norm minus its wrapper
        delta = torch.addmm(w.out[1], x, w.out[0])  # [B, D]
        return z + (delta if delta.dtype == z.dtype else delta.to(z.dtype))
