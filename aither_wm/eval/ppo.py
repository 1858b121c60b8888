"""The model-free peer of the world model: MaskablePPO (sb3-contrib) on ``aither_wm/Mesh-v0``.

>>> from aither_wm.graph import load_graph
>>> g = load_graph("graphs/online-boutique.json")
>>> model, info = train_ppo(g, PPOConfig(total_steps=4096))      # info: steps, seconds, reward
>>> record = run_scenario(g, scenario, PPOEpisodePolicy(g, model))  # like any episode policy

* Training: :class:`~aither_wm.sim.env.MeshEnv` with the benchmark's cost as reward
  (``unavailability_penalty=1``: minus [SLO violated] + (1 - availability) + the action's cost,
  what :mod:`aither_wm.eval.counterfactual` and the planners minimise), episodes drawn as the
  world model's labelled episodes are (a fault from ``[None, *faults]``, the onset in
  ``onset_range``, a fresh mesh every ``mesh_every`` episodes), invalid actions masked by
  ``sim.action_mask()`` through sb3-contrib's ``ActionMasker``. The ``[N, F]`` observation is
  flattened by the MLP policy's own extractor.
* Acting: :class:`PPOEpisodePolicy` builds the observation from the state it is given with the
  env's :func:`~aither_wm.sim.env.observation`, the mask from ``sim.action_mask()``, takes the
  deterministic action, and runs behind the same guard as every acting policy of the benchmark
  (:func:`~aither_wm.eval.episodes.guarded_policy`).
* Budget: :func:`world_model_env_steps` counts the simulator steps behind the world model's
  training data (labelled episodes, branch episodes, counterfactual rollouts).

Glossary: N services, F features, K = 1 + 4N flat actions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from pydantic import Field, ValidationError, model_validator
from sb3_contrib import MaskablePPO
from sb3_contrib.common.wrappers import ActionMasker
from stable_baselines3.common.callbacks import BaseCallback

from aither_wm.config import ControlModelConfig, FrozenConfig
from aither_wm.control.guard import GuardConfig
from aither_wm.errors import ConfigError, validation_message
from aither_wm.eval.counterfactual import BranchSet
from aither_wm.eval.episodes import StepPolicy, guarded_policy
from aither_wm.eval.policies import BENCH_GUARD
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState
from aither_wm.progress import Progress
from aither_wm.sim.env import MeshEnv, observation
from aither_wm.sim.faults import FAULT_NAMES
from aither_wm.sim.mesh import MeshSimulator

__all__ = [
    "DataRecipe",
    "EnvStepBudget",
    "PPOConfig",
    "PPOEpisodePolicy",
    "branch_rows",
    "make_ppo_env",
    "train_ppo",
    "world_model_env_steps",
]


class PPOConfig(FrozenConfig):
    """MaskablePPO on the mesh env: budget, episodes, and PPO's settings (sized for 2 CPU cores)."""

    total_steps: int = Field(default=32_000, ge=1)
    """Environment steps to train for (see :func:`world_model_env_steps` for the peer budget)."""
    seed: int = 0
    """Seeds PPO (torch, numpy, the env's episodes and meshes): same seed, same policy."""
    faults: tuple[str, ...] = FAULT_NAMES
    """Faults an episode draws from, besides "no fault"."""
    episode_steps: int = Field(default=40, ge=2)
    """Steps per training episode (the world model's episodes: 40)."""
    onset_range: tuple[int, int] = (4, 12)
    """Inclusive range of a fault's onset step (the world model's: ``[steps // 10, steps // 3)``)."""
    mesh_every: int = Field(default=4, ge=0)
    """A fresh mesh every this many episodes (the world model's data: 4); 0: one mesh."""
    n_steps: int = Field(default=1024, ge=2)
    """Rollout length between updates."""
    batch_size: int = Field(default=128, ge=2)
    """Minibatch size of an update; at most ``n_steps``."""
    n_epochs: int = Field(default=10, ge=1)
    """Passes over each rollout."""
    learning_rate: float = Field(default=3e-4, gt=0.0)
    """Adam's learning rate."""
    gamma: float = Field(default=0.95, gt=0.0, le=1.0)
    """Discount (0.95: an effect counts over ~20 steps, past the SLO's ~4-step recovery)."""
    gae_lambda: float = Field(default=0.95, ge=0.0, le=1.0)
    """GAE's lambda."""
    clip_range: float = Field(default=0.2, gt=0.0)
    """PPO's clipping of the probability ratio."""
    ent_coef: float = Field(default=0.01, ge=0.0)
    """Entropy bonus (keeps exploring the K actions)."""
    net_arch: tuple[int, ...] = (64, 64)
    """Hidden widths of the policy and value MLPs (separate networks)."""
    torch_threads: int = Field(default=1, ge=1)
    """Torch threads while training (restored after)."""

    @model_validator(mode="after")
    def _consistent(self) -> PPOConfig:
        low, high = self.onset_range
        if not 0 <= low <= high < self.episode_steps:
            raise ValueError(
                f"onset_range must satisfy 0 <= low <= high < episode_steps "
                f"({self.episode_steps}), got {self.onset_range}"
            )
        if self.batch_size > self.n_steps:
            raise ValueError(f"batch_size {self.batch_size} exceeds n_steps {self.n_steps}")
        bad = sorted(set(self.faults) - set(FAULT_NAMES))
        if bad:
            raise ValueError(f"unknown faults {bad}; expected some of {', '.join(FAULT_NAMES)}")
        if not self.net_arch or min(self.net_arch) < 1:
            raise ValueError(f"net_arch needs widths >= 1, got {self.net_arch}")
        return self

    @classmethod
    def parse(cls, data: PPOConfig | Mapping[str, Any] | None) -> PPOConfig:
        """``data`` validated; a bad value raises :class:`ConfigError` with a one-line message."""
        if isinstance(data, PPOConfig):
            return data
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as e:
            raise ConfigError(f"ppo config: {validation_message(e)}") from None


def make_ppo_env(graph: ServiceGraph, config: PPOConfig) -> ActionMasker:
    """The training env: MeshEnv with the benchmark's cost as reward, masked by the simulator."""
    env = MeshEnv(
        graph,
        seed=config.seed,
        faults=list(config.faults),
        max_steps=config.episode_steps,
        onset_range=config.onset_range,
        unavailability_penalty=1.0,
        mesh_every=config.mesh_every,
    )
    return ActionMasker(env, lambda _: env.sim.action_mask())  # env.sim: the current mesh


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Report(BaseCallback):
    """Reports the ``ppo`` counter (env steps) after each rollout."""

    def __init__(self, progress: Progress, total: int) -> None:
        super().__init__()
        self.progress, self.total = progress, total

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.progress("ppo", {"n": min(self.num_timesteps, self.total), "total": self.total})


def train_ppo(
    graph: ServiceGraph,
    config: PPOConfig | Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> tuple[MaskablePPO, dict[str, Any]]:
    """Train MaskablePPO on ``graph`` for ``config.total_steps`` env steps (see the module).

    Returns the model and ``{"steps", "seconds", "cpu_seconds", "mean_episode_reward",
    "episodes", "config"}`` (``cpu_seconds``: this process's CPU time, the figure that holds on a
    shared machine; ``mean_episode_reward``: over the last 100 training episodes, reward = minus
    the cost).
    """
    cfg = PPOConfig.parse(config)
    with _torch_threads(cfg.torch_threads):
        t, cpu = time.perf_counter(), time.process_time()
        model = MaskablePPO(
            "MlpPolicy",
            make_ppo_env(graph, cfg),
            n_steps=cfg.n_steps,
            batch_size=cfg.batch_size,
            n_epochs=cfg.n_epochs,
            learning_rate=cfg.learning_rate,
            gamma=cfg.gamma,
            gae_lambda=cfg.gae_lambda,
            clip_range=cfg.clip_range,
            ent_coef=cfg.ent_coef,
            policy_kwargs={"net_arch": list(cfg.net_arch)},
            seed=cfg.seed,
            device="cpu",
            verbose=0,
        )
        callback = _Report(progress, cfg.total_steps) if progress is not None else None
        model.learn(total_timesteps=cfg.total_steps, callback=callback)
        seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
    rewards = [float(ep["r"]) for ep in model.ep_info_buffer or []]
    info = {
        "steps": int(model.num_timesteps),
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "mean_episode_reward": round(float(np.mean(rewards)), 3) if rewards else None,
        "episodes": len(rewards),
        "config": cfg.model_dump(),
    }
    return model, info


class _PPORules:
    """The trained policy seen as a rule (``decide(graph, state)``) on one episode's simulator."""

    name = "ppo"

    def __init__(self, policy: PPOEpisodePolicy, sim: MeshSimulator) -> None:
        self.policy, self.sim = policy, sim

    def decide(self, graph: ServiceGraph, state: MeshState) -> Action:
        return self.policy.decide(self.sim, state)


class PPOEpisodePolicy:
    """A trained MaskablePPO as an :class:`~aither_wm.eval.episodes.EpisodePolicy`.

    Each step: the env's observation of the given state, the simulator's mask, the deterministic
    action, then the guard (a fresh one per episode) and the platform's validity check, exactly
    as the reactive policy.

    Args:
        graph: the mesh (the model's graph: the observation's N must match its training).
        model: a trained MaskablePPO (:func:`train_ppo`).
        guard: the guard's limits.
    """

    name = "ppo"

    def __init__(
        self, graph: ServiceGraph, model: MaskablePPO, *, guard: GuardConfig = BENCH_GUARD
    ) -> None:
        shape = tuple(model.observation_space.shape or ())
        if shape[:1] != (graph.num_services,):
            raise ConfigError(
                f"ppo model observes {shape}, graph {graph.name} has {graph.num_services} services"
            )
        self.graph, self.model, self.guard_config = graph, model, guard

    def decide(self, sim: MeshSimulator, state: MeshState) -> Action:
        """The model's deterministic action at ``state`` among those ``sim`` allows now (before
        the guard)."""
        obs = observation(self.graph, state)  # [N, F]
        mask = sim.action_mask()  # [K]
        k, _ = self.model.predict(obs, action_masks=mask, deterministic=True)
        return sim.action_space.action(int(k))

    def start(self, sim: MeshSimulator, *, seed: int) -> StepPolicy:
        """The guarded per-step policy of one episode (deterministic: ``seed`` is unused)."""
        return guarded_policy(_PPORules(self, sim), self.graph, self.guard_config, sim)


# --- the peer's budget -----------------------------------------------------------------------


class DataRecipe(Protocol):
    """What :func:`world_model_env_steps` reads of a recipe
    (:class:`aither_wm.bench.control_model.ControlRecipe` has it)."""

    @property
    def model(self) -> ControlModelConfig: ...
    @property
    def train_episodes(self) -> int: ...
    @property
    def branch_episodes(self) -> int: ...
    @property
    def episode_steps(self) -> int: ...
    @property
    def dagger_rounds(self) -> int: ...
    @property
    def dagger_episodes(self) -> int: ...
    @property
    def runbook_continuation(self) -> bool: ...


@dataclass(frozen=True)
class EnvStepBudget:
    """Simulator steps behind the world model's training data (per graph).

    Attributes:
        labelled_steps: steps of the labelled episodes (the model's training windows).
        branch_episode_steps: steps of the episodes whose states are branched (DAgger's too).
        counterfactual_steps: steps of the counterfactual rollouts: per candidate, its own step
            and ``horizon - 1`` continuation steps per continuation (no-op, and the runbook when
            the recipe keeps the cheaper of both).
    """

    labelled_steps: int
    branch_episode_steps: int
    counterfactual_steps: int

    @property
    def played_steps(self) -> int:
        """Steps of episodes played from a reset, as an env plays them."""
        return self.labelled_steps + self.branch_episode_steps

    @property
    def total_steps(self) -> int:
        """Every simulator step, counterfactual rollouts from cloned states included."""
        return self.played_steps + self.counterfactual_steps


def branch_rows(branches: Sequence[BranchSet]) -> int:
    """Candidates branched over ``branches`` (each one a counterfactual rollout)."""
    return sum(len(b.actions) for b in branches)


def world_model_env_steps(recipe: DataRecipe, *, candidates: int) -> EnvStepBudget:
    """The simulator steps the world model's data of one graph cost under ``recipe``.

    ``candidates``: candidate rollouts branched (:func:`branch_rows` of the recipe's branch sets,
    or ``train_control``'s ``branch_rows`` for one graph); the number depends on the states
    visited, so it is counted, not derived. Calibration episodes are left out (they set a
    threshold, the model does not train on them).
    """
    if candidates < 0:
        raise ConfigError(f"candidates must be >= 0, got {candidates}")
    horizon = recipe.model.value_horizon
    continuations = 2 if recipe.runbook_continuation else 1
    branch_eps = recipe.branch_episodes + recipe.dagger_rounds * recipe.dagger_episodes
    return EnvStepBudget(
        labelled_steps=recipe.train_episodes * recipe.episode_steps,
        branch_episode_steps=branch_eps * recipe.episode_steps,
        counterfactual_steps=candidates * (1 + (horizon - 1) * continuations),
    )
