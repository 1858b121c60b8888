"""The simulator's mutable arrays and one step of physics over them.

Glossary: N services, E edges, W warm-up steps, H back-off slots.

Pods: a service has ``ready`` replicas serving, ``warming[:, w]`` replicas that start serving in
``w + 1`` steps, and ``restarting[:, h]`` crashed replicas waiting out their back-off, which then
warm up. Faults write a fresh :class:`Modifiers` every step; :func:`run_physics` turns load,
pods and modifiers into utilisation, latency and errors (see :mod:`aither_wm.sim.physics`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from aither_wm.sim.config import SimConfig
from aither_wm.sim.load import LoadCurve, propagate_load
from aither_wm.sim.physics import CallState, backlog_s, own_latency_ms, propagate_calls
from aither_wm.sim.topology import MeshTopology

__all__ = ["MeshDynamics", "Modifiers", "backoff_slots", "run_physics"]


@dataclass
class Modifiers:
    """What active faults do this step (rebuilt every step). Shapes: [N] or [E].

    Attributes:
        extra_rps: load entering at a service that it passes on to its callees, requests/s.
        local_rps: extra requests the service answers by itself (no downstream calls).
        work: CPU work per request as a multiple of normal (capacity and service time).
        slow: latency multiplier that costs no CPU (I/O and lock waits, GC of a GPU process).
        err: probability a request fails inside the service (bad code, write errors).
        wedged: process up but every request fails fast (connection errors); liveness passes.
        liveness_fail: the liveness check fails regardless of load.
        delay_ms: network delay added to each edge.
        ingress_ms: network delay in front of a service (for graphs without edges).
        attempts, budget: retry policy per edge.
    """

    extra_rps: np.ndarray
    local_rps: np.ndarray
    work: np.ndarray
    slow: np.ndarray
    err: np.ndarray
    wedged: np.ndarray
    liveness_fail: np.ndarray
    delay_ms: np.ndarray
    ingress_ms: np.ndarray
    attempts: np.ndarray
    budget: np.ndarray

    @classmethod
    def fresh(cls, topo: MeshTopology, config: SimConfig) -> Modifiers:
        N, E = topo.num_services, topo.num_edges
        return cls(
            extra_rps=np.zeros(N), local_rps=np.zeros(N), work=np.ones(N), slow=np.ones(N),
            err=np.zeros(N),
            wedged=np.zeros(N, dtype=bool), liveness_fail=np.zeros(N, dtype=bool),
            delay_ms=np.zeros(E), ingress_ms=np.zeros(N),
            attempts=np.full(E, config.retry_attempts), budget=np.full(E, config.retry_budget),
        )  # fmt: skip

    def add_error(self, index: int, rate: float) -> None:
        """Compose one more independent failure cause at service ``index``."""
        self.err[index] = 1.0 - (1.0 - self.err[index]) * (1.0 - rate)


@dataclass
class MeshDynamics:
    """Everything that changes during an episode (deep-copied by ``MeshSimulator.clone``).

    Pods and releases: desired/ready [N] int, warming [N, W] int, restarting [N, H] int,
    version [N] int, prev_version [N] int (-1: none). Resources: mem, disk, gpu, gpu_base and
    cache hit ratio ``hit`` [N]. Health checks: fail_count, backoff_s, calm_steps, restarts [N].
    Last physics outputs [N]: ext, lam (load that fans out), offered (lam + local load), served,
    rho, cpu, own50, own_err, mem_obs, backlog_s (seconds of queued work); and ``calls``
    (end-to-end latency and errors).
    """

    step: int
    load: LoadCurve
    desired: np.ndarray
    ready: np.ndarray
    warming: np.ndarray
    restarting: np.ndarray
    version: np.ndarray
    prev_version: np.ndarray
    mem: np.ndarray
    disk: np.ndarray
    gpu: np.ndarray
    gpu_base: np.ndarray
    hit: np.ndarray
    fail_count: np.ndarray
    backoff_s: np.ndarray
    calm_steps: np.ndarray
    restarts: np.ndarray
    ext: np.ndarray
    lam: np.ndarray
    offered: np.ndarray
    served: np.ndarray
    rho: np.ndarray
    cpu: np.ndarray
    own50: np.ndarray
    own_err: np.ndarray
    mem_obs: np.ndarray
    backlog_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m_used: np.ndarray = field(default_factory=lambda: np.ones(0))
    calls: CallState | None = None
    mods: Modifiers | None = field(default=None)

    @property
    def replicas(self) -> np.ndarray:
        """Running replicas (ready + warming). Shape: [N] int."""
        return self.ready + self.warming.sum(axis=1)

    @property
    def down(self) -> np.ndarray:
        """Services that serve nothing: no ready replica, or wedged. Shape: [N] bool."""
        wedged = self.mods.wedged if self.mods is not None else False
        return (self.ready <= 0) | wedged


def backoff_slots(backoff_s: float, config: SimConfig) -> int:
    """Steps a crashed replica waits before it starts again (>= 1)."""
    return max(1, math.ceil(backoff_s / config.step_seconds))


def run_physics(
    topo: MeshTopology, config: SimConfig, dyn: MeshDynamics, mods: Modifiers, ext: np.ndarray
) -> None:
    """Load, queueing, calls: update dyn's physics outputs in place for this step.

    Args:
        ext: external load this step, requests/s. Shape: [N].
    """
    h0 = config.cache_hit_ratio
    down_now = (dyn.ready <= 0) | mods.wedged  # [N]
    cold = topo.is_kind("cache") & down_now
    dyn.hit = np.where(cold, 0.0, dyn.hit + (h0 - dyn.hit) / config.cache_warm_steps)  # [N]
    miss = np.ones(topo.num_edges)  # [E] database reads per call, relative to a warm cache
    behind = topo.cache_of_edge >= 0
    cache = topo.cache_of_edge[behind]
    miss[behind] = np.where(
        down_now[cache] & topo.cache_is_hard[behind],
        0.0,  # the request failed at the cache
        (1.0 - dyn.hit[cache]) / max(1.0 - h0, 1e-6),
    )
    m_prev = (
        dyn.m_used if dyn.calls is None else 0.3 * dyn.m_used + 0.7 * dyn.calls.m_edge
    )  # damped
    dyn.m_used = m_prev
    weight = topo.fanout * miss * m_prev  # [E] calls per served request, retries included
    ext_total = ext + mods.extra_rps  # [N]
    lam = propagate_load(
        topo.src,
        topo.dst,
        weight,
        ext_total,
        init=dyn.lam,
        sweeps=topo.sweeps,
        is_back=topo.is_back,
        served=dyn.served,
    )  # [N] load that fans out
    offered = lam + mods.local_rps  # [N]

    gc = 1.0 + 4.0 * np.maximum(dyn.mem - 0.75, 0.0)  # GC pressure slows a leaking process
    work = mods.work * gc  # [N]
    mu = np.maximum(dyn.ready, 0) * topo.capacity_rps / work  # [N] requests/s at rho = 1
    rho = np.where(down_now, 0.0, offered / np.maximum(mu, 1e-9))  # [N]
    backlog, drop = backlog_s(dyn.backlog_s, rho, config.step_seconds, config.queue_limit_s)
    backlog = np.where(down_now, 0.0, backlog)  # [N] a crashed pod's queue is gone
    own50, own99 = own_latency_ms(topo.service_ms * work * mods.slow, rho, backlog)  # [N], [N]
    own50 = own50 + mods.ingress_ms
    own99 = own99 + mods.ingress_ms
    own_err = np.where(down_now, 1.0, 1.0 - (1.0 - mods.err) * (1.0 - drop))  # [N]
    per_replica = topo.nominal_rps * config.pool_seconds / config.nominal_replicas
    pool_cap = np.maximum(dyn.ready, 0) * per_replica  # [N] in-flight requests the pools hold
    calls = propagate_calls(
        src=topo.src, dst=topo.dst, is_hard=topo.is_hard, is_back=topo.is_back,
        fanout=topo.fanout, seg_start=topo.seg_start, has_out=topo.has_out, own50=own50,
        own99=own99, own_err=own_err, lam=offered, pool_cap=pool_cap, delay_ms=mods.delay_ms,
        attempts=mods.attempts, budget=mods.budget, timeout_ms=topo.timeout_ms,
        deadline_ms=topo.deadline_ms, seq=config.sequential_fraction, sweeps=topo.sweeps,
        init=dyn.calls,
    )  # fmt: skip
    inflight = offered * calls.p50 / 1000.0  # [N] Little's law
    dyn.ext, dyn.lam, dyn.offered, dyn.rho, dyn.calls = ext_total, lam, offered, rho, calls
    dyn.own50, dyn.own_err, dyn.backlog_s = own50, own_err, backlog
    served = np.where(down_now, 0.0, (1.0 - drop) * (1.0 - calls.pool_drop))  # [N]
    dyn.served = 0.5 * (dyn.served + served)  # damped: the lagged feedback would oscillate
    dyn.cpu = np.where(down_now, np.where(mods.wedged, 0.02, 0.0), np.minimum(rho, 1.0))  # [N]
    queue_mem = 0.15 * np.minimum(inflight / np.maximum(pool_cap, 1e-9), 1.0)
    dyn.mem_obs = np.clip(dyn.mem + np.where(down_now, 0.0, queue_mem), 0.0, 1.0)  # [N]
    dyn.mods = mods
