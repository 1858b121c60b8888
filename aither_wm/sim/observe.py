"""From the simulator's true arrays to what a scraper sees, and the ground-truth health.

Observation noise (identical runs differ by several points of CPU): additive Gaussian on
utilisations, log-normal on latencies and request rates, binomial-like on error rates. Values
are clamped to the :class:`~aither_wm.graph.state.ServiceState` constraints (utilisations in
[0, 1], p99 >= p50) and rounded, so the transitions log stays compact and byte-stable.

Health verdicts: the observed ``health`` is what health checks and readiness say (down: nothing
ready or readiness failing; degraded: failed liveness checks, replicas not ready, > 5 % errors);
:func:`true_health` is the ground truth, which also sees saturation and resource pressure.
"""

from __future__ import annotations

import numpy as np

from aither_wm.graph.state import MeshState, ServiceState
from aither_wm.sim.config import SimConfig
from aither_wm.sim.dynamics import MeshDynamics
from aither_wm.sim.topology import MeshTopology

__all__ = ["HEALTH_NAMES", "observe_state", "true_health"]

HEALTH_NAMES: tuple[str, str, str] = ("healthy", "degraded", "down")


def _observed_health(dyn: MeshDynamics) -> np.ndarray:
    """0 healthy, 1 degraded, 2 down (the platform's view). Shape: [N] int."""
    assert dyn.calls is not None
    down = dyn.down
    degraded = (dyn.fail_count > 0) | (dyn.calls.err > 0.05) | (dyn.ready < dyn.desired)
    return np.where(down, 2, np.where(degraded, 1, 0))


def true_health(topo: MeshTopology, dyn: MeshDynamics, nominal_p99: np.ndarray) -> np.ndarray:
    """Ground-truth health, 0 healthy / 1 degraded / 2 down. Shape: [N] int."""
    assert dyn.calls is not None
    err, p99 = dyn.calls.err, dyn.calls.p99
    down = dyn.down | (err >= 0.5) | (dyn.own_err >= 0.5)
    degraded = (
        (err > 0.05)
        | (dyn.rho > 0.85)
        | (p99 > 3.0 * nominal_p99)
        | (dyn.mem > 0.9)
        | (dyn.disk > 0.95)
        | (dyn.gpu > 0.9)
    )
    return np.where(down, 2, np.where(degraded, 1, 0))


def observe_state(
    topo: MeshTopology, config: SimConfig, dyn: MeshDynamics, rng: np.random.Generator
) -> MeshState:
    """One noisy observation of every service (draws from ``rng`` in a fixed order)."""
    assert dyn.calls is not None
    N = topo.num_services
    calls = dyn.calls
    noise = rng.standard_normal((7, N))  # [7, N] one draw per metric, fixed order
    cpu = np.clip(dyn.cpu + config.cpu_noise * noise[0], 0.0, 1.0)
    mem = np.clip(dyn.mem_obs + config.util_noise * noise[1], 0.0, 1.0)
    gpu = np.where(dyn.gpu > 0.0, np.clip(dyn.gpu + config.util_noise * noise[2], 0.0, 1.0), 0.0)
    disk = np.clip(dyn.disk + config.util_noise * noise[3], 0.0, 1.0)
    p50 = np.clip(calls.p50 * np.exp(config.latency_noise * noise[4]), 0.0, 1e7)
    p99 = np.clip(calls.p99 * np.exp(config.latency_noise * noise[4]), 0.0, 1e7)  # same factor
    n_req = np.maximum(dyn.offered * config.step_seconds, 1.0)
    err_sd = np.sqrt(calls.err * (1.0 - calls.err) / n_req)
    err = np.clip(calls.err + err_sd * noise[5], 0.0, 1.0)
    rps = np.clip(dyn.offered * np.exp(config.rate_noise * noise[6]), 0.0, 1e9)
    cols = {
        "cpu_util": np.round(cpu, 4),
        "memory_util": np.round(mem, 4),
        "gpu_memory_util": np.round(gpu, 4),
        "disk_util": np.round(disk, 4),
        "latency_p50_ms": np.round(p50, 3),
        "latency_p99_ms": np.round(np.maximum(p99, p50), 3),
        "error_rate": np.round(err, 6),
        "request_rate_rps": np.round(rps, 3),
    }
    names = (*cols, "replicas", "health", "version", "previous_version")
    columns = [v.tolist() for v in cols.values()]
    columns.append(dyn.replicas.tolist())
    columns.append([HEALTH_NAMES[h] for h in _observed_health(dyn).tolist()])
    columns.append(dyn.version.tolist())
    columns.append([None if v < 0 else v for v in dyn.prev_version.tolist()])
    fields = frozenset(names)
    services = {
        name: _construct(ServiceState, dict(zip(names, row, strict=True)), fields)
        for name, row in zip(topo.graph.services, zip(*columns, strict=True), strict=True)
    }
    return MeshState.model_construct(graph=topo.graph.name, step=dyn.step, services=services)


def _construct(
    cls: type[ServiceState], values: dict[str, object], fields: frozenset[str]
) -> ServiceState:
    """``cls.model_construct(**values)`` without its per-call overhead (values already valid).

    Every value was clamped to the model's constraints above; tests check the result equals a
    validated model. Uses pydantic 2's documented instance layout (the one model_construct fills).
    """
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", set(fields))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
