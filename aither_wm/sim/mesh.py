"""The mesh simulator: a seeded, deterministic, discrete-time model of a service mesh.

>>> from aither_wm.graph import load_graph, Action
>>> sim = MeshSimulator(load_graph("graphs/online-boutique.json"), seed=0)
>>> state = sim.reset(seed=1)
>>> fault = sim.inject("cache_down", target="redis-cart")
>>> result = sim.step(Action.noop())       # result.slo.violated, result.effect == "noop"

One step (``step_seconds`` of simulated time): the action's physical effect and the faults'
reactions; pod timers (back-off, warm-up); external load; the faults' per-step effects; load
propagation, queueing and calls (:mod:`~aither_wm.sim.dynamics`); health checks and OOM kills;
faults heal or expire; one noisy observation; the SLO at the entry points; the reward.
Everything random draws from one ``numpy.random.Generator``, so a seed fixes the trajectory and
:meth:`MeshSimulator.clone` (which copies the generator) replays it exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aither_wm.errors import ActionError
from aither_wm.graph.actions import TARGETED_TYPES, ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, ActionType, MeshState
from aither_wm.sim.config import SimConfig
from aither_wm.sim.dynamics import MeshDynamics, Modifiers, backoff_slots, run_physics
from aither_wm.sim.faults import EFFECTS, Effect, Fault, make_fault
from aither_wm.sim.load import LoadCurve
from aither_wm.sim.observe import HEALTH_NAMES, observe_state, true_health
from aither_wm.sim.pods import advance_pods, apply_action, health_checks
from aither_wm.sim.slo import SLOStatus, slo_status
from aither_wm.sim.topology import MeshTopology, build_topology

__all__ = ["MeshSimulator", "StepResult"]

_CAPACITY_TAKERS = (ActionType.restart, ActionType.scale_in, ActionType.rollback)


@dataclass(frozen=True)
class StepResult:
    """What one :meth:`MeshSimulator.step` did.

    Attributes:
        state: the next (noisy) observation.
        slo: the SLO at the entry points over this step.
        reward: -(violation_penalty if the SLO was violated) - the action's cost.
        faults: labels of the faults still active after the step.
        effect: ground truth of what the action did to the active fault(s): "fixes",
            "no_effect", "harmful", "false_positive" (acting with nothing to fix, or on a
            self-healing fault) or "noop".
        action: the action taken.
    """

    state: MeshState
    slo: SLOStatus
    reward: float
    faults: tuple[str, ...]
    effect: Effect
    action: Action


class MeshSimulator:
    """A simulated mesh over ``graph`` (see the module docstring).

    Args:
        graph: any valid graph (cycles allowed, 1 to 1,000+ services).
        config: simulator settings; defaults when None.
        seed: fixes the mesh's constants (capacities, fan-outs) and the first episode.
    """

    def __init__(self, graph: ServiceGraph, config: SimConfig | None = None, *, seed: int = 0):
        self.graph = graph
        self.config = config or SimConfig()
        seeds = np.random.SeedSequence(seed).spawn(2)
        self.topology: MeshTopology = build_topology(
            graph, self.config, seed=int(seeds[0].generate_state(1)[0])
        )
        self.action_space = ActionSpace(
            graph, min_replicas=self.config.min_replicas, max_replicas=self.config.max_replicas
        )
        self._rng = np.random.default_rng(seeds[1])
        self.faults: list[Fault] = []
        self.fault_history: list[Fault] = []
        self._calibrate()
        self.reset()

    # -- episode --------------------------------------------------------------------------
    def _fresh_dynamics(self, rng: np.random.Generator) -> MeshDynamics:
        topo, cfg = self.topology, self.config
        N, W = topo.num_services, cfg.warmup_steps
        H = backoff_slots(cfg.max_backoff_s, cfg) + 1
        version = rng.integers(1, 6, N)
        has_prev = (rng.random(N) < cfg.previous_version_fraction) & (version > 1)
        load = LoadCurve.start(
            topo.ext_share, amplitude=cfg.diurnal_amplitude,
            period_steps=cfg.diurnal_period_s / cfg.step_seconds, noise_std=cfg.load_noise,
            noise_corr=cfg.load_noise_corr, rng=rng,
        )  # fmt: skip
        zeros = np.zeros(N)
        return MeshDynamics(
            step=0, load=load,
            desired=np.full(N, cfg.nominal_replicas), ready=np.full(N, cfg.nominal_replicas),
            warming=np.zeros((N, W), dtype=np.int64), restarting=np.zeros((N, H), dtype=np.int64),
            version=version, prev_version=np.where(has_prev, version - 1, -1),
            mem=topo.mem_base.copy(), disk=topo.disk_base.copy(), gpu=zeros.copy(),
            gpu_base=zeros.copy(), hit=np.full(N, cfg.cache_hit_ratio),
            fail_count=np.zeros(N, dtype=np.int64), backoff_s=np.full(N, cfg.restart_backoff_s),
            calm_steps=np.zeros(N, dtype=np.int64), restarts=np.zeros(N, dtype=np.int64),
            ext=topo.ext_share.copy(), lam=topo.nominal_rps.copy(), offered=topo.nominal_rps.copy(),
            served=np.ones(N), rho=zeros.copy(), cpu=zeros.copy(), own50=zeros.copy(),
            own_err=zeros.copy(), mem_obs=topo.mem_base.copy(), m_used=np.ones(topo.num_edges),
            backlog_s=zeros.copy(),
        )  # fmt: skip

    def _calibrate(self) -> None:
        """Nominal (noise-free, fault-free) latencies: edge timeouts, health bands, SLO target.

        Timeouts come first (from latencies without any), as an operator sets them from the
        callee's normal p99; then the nominal latencies under those timeouts.
        """
        cfg = self.config
        inf = np.full(self.topology.num_edges, 1e12)
        free = dataclasses.replace(self.topology, timeout_ms=inf, deadline_ms=inf)
        t_ms = np.maximum(cfg.timeout_ms, cfg.timeout_factor * self._nominal_p99(free)[free.dst])
        self.topology = dataclasses.replace(
            self.topology,
            timeout_ms=t_ms,
            deadline_ms=np.maximum(cfg.deadline_ms, cfg.retry_attempts * t_ms),
        )
        self.nominal_p99_ms = self._nominal_p99(self.topology)  # [N]
        entry_p99 = float(self.nominal_p99_ms[self.topology.entry].max())
        self.slo_latency_ms = cfg.slo_latency_factor * entry_p99

    def _nominal_p99(self, topo: MeshTopology) -> np.ndarray:
        """p99 of every service at mean load without faults or noise. Shape: [N]."""
        dyn = self._fresh_dynamics(np.random.default_rng(0))
        for _ in range(3 + -(-topo.depth // topo.sweeps)):  # warm-started runs to converge
            run_physics(topo, self.config, dyn, Modifiers.fresh(topo, self.config), topo.ext_share)
        assert dyn.calls is not None
        return dyn.calls.p99.copy()

    def _mods(self) -> Modifiers:
        return Modifiers.fresh(self.topology, self.config)

    def reset(self, seed: int | None = None) -> MeshState:
        """Start an episode (no faults); ``seed`` None continues the current random stream."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.faults, self.fault_history = [], []
        self.dyn = self._fresh_dynamics(self._rng)
        ext = self.dyn.load.sample(0, self._rng)
        for _ in range(3):  # settle the warm-started fixed points
            run_physics(self.topology, self.config, self.dyn, self._mods(), ext)
        self._finish_step()
        return self._obs

    @property
    def step_count(self) -> int:
        return int(self.dyn.step)

    @property
    def active_faults(self) -> tuple[Fault, ...]:
        return tuple(self.faults)

    @property
    def fault_labels(self) -> tuple[str, ...]:
        return tuple(f.label for f in self.faults)

    @property
    def last_slo(self) -> SLOStatus:
        return self._slo

    def observe(self) -> MeshState:
        """The latest noisy observation (drawn once per step: observing changes nothing)."""
        return self._obs

    def true_health(self) -> dict[str, str]:
        """Ground-truth health of every service: "healthy", "degraded" or "down"."""
        codes = true_health(self.topology, self.dyn, self.nominal_p99_ms).tolist()
        return {s: HEALTH_NAMES[c] for s, c in zip(self.graph.services, codes, strict=True)}

    # -- faults ---------------------------------------------------------------------------
    def inject(self, fault: Fault | str, target: str | None = None, **params: Any) -> Fault:
        """Inject a fault now (a Fault, or a name plus ``target`` and parameters); returns it."""
        if isinstance(fault, str):
            if target is None:
                raise ActionError(f"inject({fault!r}) needs a target service")
            fault = make_fault(fault, target, **params)
        fault.bind(self)
        self.faults.append(fault)
        self.fault_history.append(fault)
        return fault

    # -- actions --------------------------------------------------------------------------
    def action_mask(self) -> np.ndarray:
        """Validity of each flat action now; equals ``action_space.mask(observe())``. [K] bool."""
        replicas = self.dyn.replicas
        cfg = self.config
        return np.concatenate([
            np.ones(1 + self.topology.num_services, dtype=bool),  # noop, restart
            replicas < cfg.max_replicas, replicas > cfg.min_replicas, self.dyn.prev_version >= 0,
        ])  # fmt: skip

    def _saturates(self, action: Action) -> bool:
        """The action takes capacity from a service that is, or would then be, saturated."""
        if action.type not in _CAPACITY_TAKERS:
            return False
        i = self.graph.index(action.target or "")
        ready = int(self.dyn.ready[i])
        removed = 1 if action.type is ActionType.scale_in else math.ceil(ready / 2)
        rho = float(self.dyn.rho[i])
        after = rho * ready / (ready - removed) if ready > removed else math.inf
        return rho >= 0.85 or after >= 1.0

    def _classify(self, action: Action) -> Effect:
        """Ground truth, in order: the remedy table's "harmful" for an active fault; "fixes";
        "harmful" when the action saturates its target; "false_positive" with no fault (or a
        self-healing one); else "no_effect"."""
        if action.type is ActionType.noop:
            return "noop"
        found = {f.effect_of(action) for f in self.faults}
        if "harmful" in found or "fixes" in found:
            return "harmful" if "harmful" in found else "fixes"
        if self._saturates(action):
            return "harmful"
        if not self.faults:
            return "false_positive"
        return next(e for e in EFFECTS if e in found)

    def step(self, action: Action) -> StepResult:
        """Apply ``action``, advance one step, observe. ActionError if it is masked."""
        effect = self._advance(action)
        self._finish_step()
        cost = self.config.action_cost(action.type.value)
        reward = 0.0 - (self.config.violation_penalty if self._slo.violated else 0.0) - cost
        return StepResult(self._obs, self._slo, float(reward), self.fault_labels, effect, action)

    def _advance(self, action: Action) -> Effect:
        """The physics of one step (no observation); returns the action's effect."""
        k = self.action_space.index(action)
        if not self.action_mask()[k]:
            kind = TARGETED_TYPES[(k - 1) // self.topology.num_services].value
            raise ActionError(f"action {action} is invalid now ({kind} is masked for its target)")
        effect = self._classify(action)
        self.dyn.step += 1
        advance_pods(self.dyn)  # first, so a replica started now is useless for warmup_steps
        apply_action(self.topology, self.config, self.dyn, action)
        for f in self.faults:
            f.on_action(action, self)
        ext = self.dyn.load.sample(self.dyn.step, self._rng)
        mods = self._mods()
        for f in self.faults:
            if f.is_active:
                f.tick(self, mods)
        run_physics(self.topology, self.config, self.dyn, mods, ext)
        health_checks(self.topology, self.config, self.dyn)
        for f in self.faults:
            if f.is_active:
                f.after_step(self)
        self.faults = [f for f in self.faults if f.is_active]
        return effect

    def _finish_step(self) -> None:
        dyn = self.dyn
        assert dyn.calls is not None
        self._obs = observe_state(self.topology, self.config, dyn, self._rng)
        self._slo = slo_status(
            entry=self.topology.entry, ext=dyn.ext, err=dyn.calls.err, p99_ms=dyn.calls.p99,
            availability_target=self.config.slo_availability, latency_target_ms=self.slo_latency_ms,
        )  # fmt: skip

    def clone(self) -> MeshSimulator:
        """An independent copy (state, faults and random generator) sharing the constants."""
        new = copy.copy(self)
        memo = {id(self.graph): self.graph, id(self.topology): self.topology}
        new.dyn = copy.deepcopy(self.dyn, memo)
        new._rng = copy.deepcopy(self._rng)
        new.faults, new.fault_history = copy.deepcopy((self.faults, self.fault_history), memo)
        return new
