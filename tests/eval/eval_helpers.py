"""Helpers of the evaluation-harness tests: tiny world-model and control-model architectures
(distinct sizes)."""

from aither_wm.config import (
    ControlModelConfig,
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    WorldModelConfig,
)

TINY = WorldModelConfig(
    encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
    projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
    predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=8),
)

TINY_CONTROL = ControlModelConfig(world=TINY, value_horizon=4)
