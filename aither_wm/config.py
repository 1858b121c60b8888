"""Typed configuration sections of the world model and its training.

Every section is a frozen pydantic model that refuses unknown keys; each component receives only its
own section. Sections owned by other packages live beside their code (``SIGRegConfig`` in
``aither_wm.regularizers``, ``SimConfig`` in ``aither_wm.sim``, ``CEMConfig``/``MCTSConfig`` in
``aither_wm.planning``). Nothing here is built at import time.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "ControlModelConfig",
    "EncoderConfig",
    "FrozenConfig",
    "PredictorConfig",
    "ProjectorConfig",
    "TokenPredictorConfig",
    "TrainConfig",
    "WorldModelConfig",
]


class FrozenConfig(BaseModel):
    """Base of every config section: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EncoderConfig(FrozenConfig):
    """The graph-state encoder (a graph transformer with AdaLN)."""

    d_model: int = Field(default=128, ge=8)
    """Width of the per-service tokens."""
    num_layers: int = Field(default=3, ge=1, le=24)
    """Transformer blocks."""
    num_heads: int = Field(default=4, ge=1)
    """Attention heads; must divide d_model."""
    mlp_ratio: float = Field(default=2.0, gt=0)
    """Hidden width of each block's MLP, as a multiple of d_model."""
    embed_dim: int = Field(default=768, ge=8)
    """Size of the pooled state embedding."""
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Dropout inside attention and MLPs (0 for the small data of a mesh)."""

    @model_validator(mode="after")
    def _heads_divide(self) -> EncoderConfig:
        if self.d_model % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide d_model ({self.d_model})")
        return self


class ProjectorConfig(FrozenConfig):
    """Linear -> BatchNorm1d -> GELU -> Linear, from the state embedding to the latent z."""

    hidden_dim: int = Field(default=1024, ge=8)
    """Hidden width."""
    latent_dim: int = Field(default=256, ge=2)
    """Size D of the latent the predictor and planners work in."""


class PredictorConfig(FrozenConfig):
    """The action-conditioned latent predictor (residual MLP blocks with AdaLN on the action)."""

    hidden_dim: int = Field(default=64, ge=8)
    """Width of the residual stream. 64 wide, one block: on held-out simulated episodes it fits no
    worse than wider or deeper predictors, and it costs about half as much per rolled-out row,
    which is what a planning decision spends its time on (measurements: docs/planning.md, "Third
    pass")."""
    num_blocks: int = Field(default=1, ge=1, le=16)
    """Residual blocks, each conditioned on the action through AdaLN."""
    activation: Literal["gelu", "silu"] = "silu"
    """The MLP's activation: SiLU, or the exact (erf) GELU. SiLU by default: it fits no worse and
    is much cheaper inside a planning decision, where the exact GELU was the costliest small
    operation (measurements: docs/planning.md, "Third pass"). Checkpoints carry it, and ones saved
    before it existed load as GELU (the field's absence)."""
    action_dim: int = Field(default=128, ge=4)
    """Size of the action embedding (type embedding + projected target-service embedding)."""


class WorldModelConfig(FrozenConfig):
    """Everything needed to rebuild a world model's architecture (stored in checkpoints)."""

    encoder: EncoderConfig = EncoderConfig()
    """Graph-state encoder."""
    projector: ProjectorConfig = ProjectorConfig()
    """Projector to the latent."""
    predictor: PredictorConfig = PredictorConfig()
    """Latent predictor."""
    num_action_types: int = Field(default=5, ge=1)
    """Action types (noop, restart, scale_out, scale_in, rollback)."""


class TrainConfig(FrozenConfig):
    """Training of the world model: L = MSE(z_next_hat, z_next) + lambda * regulariser."""

    steps: int = Field(default=600, ge=1)
    """Optimizer steps."""
    batch_size: int = Field(default=64, ge=4)
    """Transitions per step (both states of each are encoded: 2 * batch_size rows)."""
    lr: float = Field(default=1e-3, gt=0)
    """AdamW learning rate (cosine decay to 10% after a linear warm-up)."""
    weight_decay: float = Field(default=1e-4, ge=0)
    """AdamW weight decay."""
    warmup_steps: int = Field(default=30, ge=0)
    """Linear learning-rate warm-up."""
    grad_clip: float = Field(default=1.0, gt=0)
    """Global gradient-norm clip."""
    lam: float = Field(default=0.1, ge=0)
    """lambda: weight of the regulariser (LeWM's value; tune with bisection)."""
    regularizer: Literal["sigreg", "vicreg", "seed_sigreg", "none"] = "sigreg"
    """Anti-collapse term: the reference SIGReg, the VICReg-style penalty, the seed's form, or none."""
    num_slices: int = Field(default=256, ge=1)
    """SIGReg random slices per step (P)."""
    use_ema_target: bool = False
    """Encode the prediction target with an EMA copy of the encoder (ablation only; off in LeWM)."""
    ema_decay: float = Field(default=0.99, gt=0, lt=1)
    """EMA decay of the target encoder."""
    use_stop_grad: bool = False
    """Detach the prediction target (ablation only; LeWM does not)."""
    holdout_fraction: float = Field(default=0.2, ge=0.0, lt=1.0)
    """Fraction of transitions (by episode order, the last ones) kept for held-out evaluation."""
    seed: int = 0
    """Seed of initialisation, batch sampling and SIGReg slices."""
    device: str = "cpu"
    """torch device for training ("cuda" on a GPU worker)."""

    @field_validator("device")
    @classmethod
    def _is_a_device(cls, v: str) -> str:
        import torch

        try:
            torch.device(v)
        except (RuntimeError, TypeError):
            raise ValueError(f"not a torch device: {v!r} (e.g. cpu, cuda, cuda:1)") from None
        return v


class TokenPredictorConfig(FrozenConfig):
    """The service-token predictor: per-service tokens -> next tokens, the action injected at its
    target's token (relation-biased attention blocks, as the encoder's)."""

    num_layers: int = Field(default=2, ge=1, le=12)
    """Attention blocks."""
    num_heads: int = Field(default=4, ge=1)
    """Attention heads; must divide the encoder's d_model."""
    mlp_ratio: float = Field(default=2.0, gt=0)
    """Hidden width of each block's MLP, as a multiple of d_model."""


class ControlModelConfig(FrozenConfig):
    """The control model: the JEPA world model plus what control needs (service tokens, cost and
    value heads). Stored in checkpoints like :class:`WorldModelConfig`."""

    world: WorldModelConfig = WorldModelConfig()
    """The world model (encoder, projector, latent predictor) the tokens come from."""
    tokens: TokenPredictorConfig = TokenPredictorConfig()
    """The service-token predictor."""
    head_hidden: int = Field(default=64, ge=4)
    """Hidden width of the cost and value heads."""
    value_horizon: int = Field(default=8, ge=1, le=64)
    """T: steps the value head's cost-to-go covers (the counterfactual branches' horizon)."""
