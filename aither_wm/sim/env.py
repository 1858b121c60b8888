"""The Gymnasium environment ``aither_wm/Mesh-v0``: remediate a simulated mesh.

>>> import gymnasium, aither_wm.sim
>>> env = gymnasium.make("aither_wm/Mesh-v0", graph="graphs/online-boutique.json")
>>> obs, info = env.reset(seed=0)               # obs [N, F] float32, info["action_mask"] [K]

Glossary: N services, F features (``aither_wm.graph.features``), K = 1 + 4N flat actions.

* Observation: per-service features of the noisy observation, :func:`observation` [N, F]
  (``featurize(graph, state)`` clipped to the observation space; a policy run outside the env
  builds its input with the same function).
* Action: Discrete(K), the flat index of ``aither_wm.graph.actions.ActionSpace``; validity is in
  ``info["action_mask"]``. A masked action is not executed: the step runs as a no-op, costs
  ``invalid_action_penalty`` and sets ``info["invalid_action"]``.
* Reward: ``-violation_penalty`` when the entry points' SLO is violated this step, minus the
  action's cost, minus ``unavailability_penalty * (1 - availability)`` (default 0). With
  ``unavailability_penalty=1`` the reward is minus the benchmark's per-step cost
  (``eval.counterfactual.slo_cost`` plus the action's cost), what the planners minimise.
* Episodes: each reset draws a fault from ``[None, *faults]`` and an onset step; the episode is
  truncated after ``max_steps`` (never terminated: a mesh does not end). With ``mesh_every`` > 0
  every that many episodes also draw a fresh mesh (its constants: capacities, fan-outs), as the
  world model's training data span many meshes; 0 keeps the mesh of ``seed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from aither_wm.errors import ConfigError
from aither_wm.graph.features import FEATURE_DIM, featurize
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import Action, MeshState
from aither_wm.sim.config import SimConfig
from aither_wm.sim.faults import FAULT_NAMES, Fault, pick_fault
from aither_wm.sim.mesh import MeshSimulator, StepResult

__all__ = ["ENV_ID", "OBS_HIGH", "MeshEnv", "observation"]

ENV_ID = "aither_wm/Mesh-v0"
#: Upper bound of every feature (all are >= 0; log-scaled ones stay below ~2.5).
OBS_HIGH = 10.0


def observation(graph: ServiceGraph, state: MeshState) -> np.ndarray:
    """The env's observation of ``state``: ``featurize`` clipped to ``[0, OBS_HIGH]``. [N, F]"""
    x, _ = featurize(graph, state)  # [N, F]
    return np.clip(x.numpy(), 0.0, OBS_HIGH).astype(np.float32)


class MeshEnv(gym.Env[np.ndarray, np.int64]):
    """A mesh simulator as a Gymnasium environment (see the module docstring).

    Args:
        graph: a graph file (or a loaded ServiceGraph).
        seed: seeds the mesh's constants (capacities, fan-outs); episodes are seeded by reset.
        faults: fault names an episode draws from, besides "no fault" (None: all).
        max_steps: steps before truncation.
        onset_range: (low, high) steps between which a fault starts (inclusive).
        config: simulator settings.
        invalid_action_penalty: reward lost for a masked action.
        unavailability_penalty: reward lost per unit of the entry points' unavailability.
        mesh_every: draw a fresh mesh every this many episodes (0: keep the mesh of ``seed``).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's convention

    def __init__(
        self,
        graph: str | Path | ServiceGraph,
        seed: int | None = None,
        faults: list[str] | None = None,
        max_steps: int = 100,
        onset_range: tuple[int, int] = (5, 30),
        config: SimConfig | None = None,
        invalid_action_penalty: float = 0.5,
        unavailability_penalty: float = 0.0,
        mesh_every: int = 0,
    ):
        self.graph = graph if isinstance(graph, ServiceGraph) else load_graph(graph)
        names = list(FAULT_NAMES if faults is None else faults)
        unknown = sorted(set(names) - set(FAULT_NAMES))
        if unknown:
            raise ConfigError(
                f"unknown faults {unknown}; expected some of {', '.join(FAULT_NAMES)}"
            )
        if max_steps < 1 or not 0 <= onset_range[0] <= onset_range[1]:
            raise ConfigError(f"bad max_steps {max_steps} or onset_range {onset_range}")
        if mesh_every < 0 or unavailability_penalty < 0:
            raise ConfigError(
                f"mesh_every and unavailability_penalty must be >= 0, got {mesh_every} and "
                f"{unavailability_penalty}"
            )
        self.fault_names = names
        self.max_steps = max_steps
        self.onset_range = onset_range
        self.invalid_action_penalty = invalid_action_penalty
        self.unavailability_penalty = unavailability_penalty
        self.mesh_every = mesh_every
        self._config = config
        self._episodes = 0
        self.sim = MeshSimulator(self.graph, config, seed=0 if seed is None else seed)
        N, K = self.graph.num_services, self.sim.action_space.num_actions
        self.observation_space = gym.spaces.Box(
            0.0, OBS_HIGH, shape=(N, FEATURE_DIM), dtype=np.float32
        )
        self.action_space = gym.spaces.Discrete(K)
        self._fault: Fault | None = None
        self._onset = -1
        self._t = 0

    def _obs(self, state: MeshState) -> np.ndarray:
        return observation(self.graph, state)  # [N, F]

    def _info(self, result: StepResult | None = None, invalid: bool = False) -> dict[str, Any]:
        slo = self.sim.last_slo
        return {
            "action_mask": self.sim.action_mask(),
            "faults": self.sim.fault_labels,
            "step": self._t,
            "slo_violated": slo.violated,
            "availability": slo.availability,
            "latency_p99_ms": slo.latency_p99_ms,
            "effect": result.effect if result is not None else "noop",
            "invalid_action": invalid,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode. ``options``: ``fault`` (a name or None) and ``onset_step`` override
        the draws."""
        super().reset(seed=seed)
        rng = self.np_random
        options = options or {}
        if self.mesh_every and self._episodes % self.mesh_every == 0:
            self.sim = MeshSimulator(self.graph, self._config, seed=int(rng.integers(2**62)))
        self._episodes += 1
        state = self.sim.reset(seed=int(rng.integers(2**62)))
        choices: list[str | None] = [None, *self.fault_names]
        name = options["fault"] if "fault" in options else choices[int(rng.integers(len(choices)))]
        low, high = self.onset_range
        self._onset = int(options.get("onset_step", rng.integers(low, high + 1)))
        self._fault = pick_fault(name, self.graph, rng) if name is not None else None
        self._t = 0
        return self._obs(state), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        k = int(action)
        if self._fault is not None and self._t == self._onset:
            self.sim.inject(self._fault)
        mask = self.sim.action_mask()
        invalid = not (0 <= k < mask.shape[0] and mask[k])
        act = Action.noop() if invalid else self.sim.action_space.action(k)
        result = self.sim.step(act)
        self._t += 1
        unavailable = 1.0 - float(result.slo.availability)
        reward = (
            result.reward
            - (self.invalid_action_penalty if invalid else 0.0)
            - self.unavailability_penalty * unavailable
        )
        truncated = self._t >= self.max_steps
        return self._obs(result.state), float(reward), False, truncated, self._info(result, invalid)
