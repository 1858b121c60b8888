"""Helpers of the evaluation-harness tests: tiny world-model and control-model architectures
(distinct sizes), and the benches' tiny control recipe."""

from aither_wm.bench.control_model import ControlRecipe
from aither_wm.config import (
    ControlModelConfig,
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    WorldModelConfig,
)
from aither_wm.eval.control_fit import ControlFitConfig

TINY = WorldModelConfig(
    encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
    projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
    predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=8),
)

TINY_CONTROL = ControlModelConfig(world=TINY, value_horizon=4)

#: The benches' tiny control recipe: seconds of data and training (a smoke test, not a model).
TINY_RECIPE = ControlRecipe(
    model=ControlModelConfig(world=TINY, value_horizon=3),
    fit=ControlFitConfig(steps=3, batch_windows=2, batch_sets=2, rollout_steps=2),
    train_episodes=4,
    branch_episodes=3,
    episode_steps=8,
    branch_every=3,
    workers=1,
    calibration_episodes=2,
    selection_seeds=1,
    selection_steps=6,
)
