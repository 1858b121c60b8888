"""Named sizes: the world models and run settings the apps ship with (Ray-free, nothing built at
import time beyond frozen config objects).

=================  ===========================================================================
name               used by
=================  ===========================================================================
``SMALL_MODEL``    the quick demo (``aither-wm demo --quick``)
``MEDIUM_MODEL``   the full demo (``aither-wm demo``) and the demo recipe of ``bench autoheal``
``LIVE_MODEL``     the world-model policies of ``aither-wm live heal`` (trained on the simulator)
``QUICK``          the quick demo run (under a minute on 2 CPU cores)
``FULL``           the full demo run
=================  ===========================================================================

The three model presets keep the exact (erf) GELU in the predictor: the figures in the README and
docs for these runs were measured with it, while the library default is SiLU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aither_wm.config import (
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.control.guard import GuardConfig

__all__ = [
    "FULL",
    "LIVE_MODEL",
    "MEDIUM_MODEL",
    "QUICK",
    "SMALL_MODEL",
    "DemoSettings",
]

SMALL_MODEL = WorldModelConfig(
    encoder=EncoderConfig(d_model=32, num_layers=2, num_heads=4, embed_dim=64),
    projector=ProjectorConfig(hidden_dim=128, latent_dim=32),
    predictor=PredictorConfig(hidden_dim=128, num_blocks=2, action_dim=32, activation="gelu"),
)
MEDIUM_MODEL = WorldModelConfig(
    encoder=EncoderConfig(d_model=64, num_layers=2, num_heads=4, embed_dim=128),
    projector=ProjectorConfig(hidden_dim=256, latent_dim=64),
    predictor=PredictorConfig(hidden_dim=256, num_blocks=2, action_dim=64, activation="gelu"),
)
LIVE_MODEL = WorldModelConfig(
    encoder=EncoderConfig(d_model=32, num_layers=1, num_heads=2, embed_dim=64),
    projector=ProjectorConfig(hidden_dim=64, latent_dim=32),
    predictor=PredictorConfig(hidden_dim=64, num_blocks=1, action_dim=16, activation="gelu"),
)


def _demo_guard() -> GuardConfig:
    return GuardConfig(
        dry_run=False,
        cooldown_steps=3,
        window_steps=10,
        max_actions_per_window=4,
        max_service_fraction=0.3,
    )


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run."""

    data_episodes: int
    """Simulated episodes of training data (the simulator's behaviour policy)."""
    data_steps: int
    """Steps per training episode."""
    model: WorldModelConfig
    """The world model's architecture."""
    train: TrainConfig
    """Training on the trainer actor (its seed is replaced by the run's)."""
    cem: dict[str, Any]
    """CEMConfig fields of the CEM planner actor (empty: the defaults)."""
    mcts: dict[str, Any]
    """MCTSConfig fields of the MCTS planner actor (empty: the defaults)."""
    faults: tuple[str, ...]
    """One autoheal episode per fault, under every controller."""
    episode_steps: int
    """Steps of each autoheal episode."""
    onset_step: int = 3
    """Step at which the fault is injected."""
    deadline_ms: float = 2000.0
    """The controller's deadline for both planners' answers."""
    guard: GuardConfig = field(default_factory=_demo_guard)
    """The safety guard of every controller (acting, not dry-run)."""


QUICK = DemoSettings(
    data_episodes=16,
    data_steps=60,
    model=SMALL_MODEL,
    train=TrainConfig(steps=150, batch_size=32, num_slices=64, warmup_steps=15, lr=2e-3),
    cem={"num_samples": 128, "num_elites": 16, "iterations": 2},
    mcts={"num_simulations": 64, "top_m": 12},
    faults=("memory_leak", "bad_deploy", "pod_kill"),
    episode_steps=20,
)
FULL = DemoSettings(
    data_episodes=60,
    data_steps=60,
    model=MEDIUM_MODEL,
    train=TrainConfig(steps=600, batch_size=48, num_slices=128, warmup_steps=30, lr=2e-3),
    cem={},
    mcts={},
    faults=("memory_leak", "bad_deploy", "pod_kill", "cpu_saturation", "cache_down", "retry_storm"),
    episode_steps=36,
)
