"""Simulator settings: one frozen pydantic section, unknown keys refused.

Units are in the field names. The defaults describe a mesh scraped every 15 s, provisioned at
25-45 % CPU at the diurnal mean, with gRPC-like 1 s timeouts, 3 attempts and a 10 % retry budget,
Kubernetes-like health checks (3 failures) and restart back-off (10 s doubling to 300 s).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SimConfig"]


class SimConfig(BaseModel):
    """Settings of :class:`~aither_wm.sim.mesh.MeshSimulator`."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    step_seconds: float = Field(default=15.0, gt=0.0, le=3600.0)
    """Simulated seconds per step (the metrics scrape interval)."""
    entry_rps: float = Field(default=200.0, gt=0.0, le=1e6)
    """Mean external request rate arriving at each entry point, requests/s."""
    background_rps: float = Field(default=20.0, ge=0.0, le=1e6)
    """Request rate of services nobody calls that are not entry points (workers, cron jobs)."""
    diurnal_amplitude: float = Field(default=0.3, ge=0.0, lt=1.0)
    """Relative amplitude of the daily load curve (0.3: +-30 % around the mean)."""
    diurnal_period_s: float = Field(default=86_400.0, gt=0.0)
    """Period of the daily load curve, seconds."""
    load_noise: float = Field(default=0.05, ge=0.0, le=1.0)
    """Stationary std of the multiplicative AR(1) noise on external load."""
    load_noise_corr: float = Field(default=0.9, ge=0.0, lt=1.0)
    """Step-to-step correlation of the external load noise."""
    target_util_low: float = Field(default=0.25, gt=0.0, lt=1.0)
    """Lowest CPU utilisation a service is provisioned for at mean load (drawn per service)."""
    target_util_high: float = Field(default=0.45, gt=0.0, lt=1.0)
    """Highest CPU utilisation a service is provisioned for at mean load (drawn per service)."""
    nominal_replicas: int = Field(default=2, ge=1, le=100)
    """Replicas of every service at reset."""
    min_replicas: int = Field(default=1, ge=0)
    """scale_in is invalid at or below this many replicas."""
    max_replicas: int = Field(default=10, ge=1)
    """scale_out is invalid at or above this many replicas."""
    warmup_steps: int = Field(default=2, ge=0, le=20)
    """Steps a new or restarted replica runs before it serves (JIT, caches, connection pools)."""
    restart_backoff_s: float = Field(default=10.0, gt=0.0)
    """First crash-restart back-off, seconds; doubles on each crash up to ``max_backoff_s``."""
    max_backoff_s: float = Field(default=300.0, gt=0.0)
    """Longest crash-restart back-off, seconds."""
    backoff_reset_steps: int = Field(default=20, ge=1)
    """Steps without a crash after which the back-off returns to ``restart_backoff_s``."""
    queue_limit_s: float = Field(default=5.0, gt=0.0)
    """Most work a service queues, in seconds; an overloaded service drops the excess beyond."""
    health_check_failures: int = Field(default=3, ge=1)
    """Consecutive failed liveness checks after which the platform kills a replica."""
    liveness_overload: float = Field(default=1.5, gt=0.0)
    """A replica fails its liveness check above this utilisation (its probe waits behind a full
    queue); the platform then kills replicas and their load moves onto the rest (a cascade)."""
    timeout_ms: float = Field(default=1000.0, gt=0.0)
    """Per-attempt timeout a caller waits for a callee, milliseconds (at least; see below)."""
    timeout_factor: float = Field(default=4.0, gt=1.0)
    """An edge's timeout is the larger of ``timeout_ms`` and this multiple of the callee's
    nominal p99 (deep call trees get longer timeouts near the top, as configured in practice)."""
    retry_attempts: float = Field(default=3.0, ge=1.0, le=20.0)
    """Attempts per call (1 + retries) on every edge."""
    retry_budget: float = Field(default=0.1, ge=0.0)
    """Extra attempts a caller may send, as a fraction of its calls (gRPC retry throttling)."""
    deadline_ms: float = Field(default=3000.0, gt=0.0)
    """Deadline of one call including its retries, milliseconds (gRPC-style); at least the
    edge's timeout x ``retry_attempts``."""
    pool_seconds: float = Field(default=5.0, gt=0.0)
    """In-flight requests a service's connection pools hold, in seconds of its nominal load;
    a slow callee fills them and the caller fails requests while its CPU idles."""
    sequential_fraction: float = Field(default=0.1, ge=0.0, le=1.0)
    """Weight of the non-slowest callees in a caller's latency (0: fully parallel fan-out)."""
    previous_version_fraction: float = Field(default=0.3, ge=0.0, le=1.0)
    """Fraction of services that start with a previous release (rollback valid) at reset."""
    cache_hit_ratio: float = Field(default=0.8, ge=0.0, lt=1.0)
    """Warm hit ratio of every cache; a database read behind a cache is sent on a miss."""
    cache_warm_steps: float = Field(default=3.0, gt=0.0)
    """Time constant, in steps, of a cold cache's hit ratio returning to ``cache_hit_ratio``."""
    slo_availability: float = Field(default=0.99, gt=0.0, le=1.0)
    """Availability target at the entry points (1 - error rate)."""
    slo_latency_factor: float = Field(default=3.0, gt=1.0)
    """p99 latency target at the entry points, as a multiple of the nominal (calibrated) p99."""
    cpu_noise: float = Field(default=0.04, ge=0.0, le=1.0)
    """Std of the additive observation noise on CPU utilisation."""
    util_noise: float = Field(default=0.01, ge=0.0, le=1.0)
    """Std of the additive observation noise on memory, GPU memory and disk utilisation."""
    latency_noise: float = Field(default=0.08, ge=0.0, le=1.0)
    """Std of the multiplicative (log-normal) observation noise on latencies."""
    rate_noise: float = Field(default=0.03, ge=0.0, le=1.0)
    """Std of the multiplicative observation noise on request rates."""
    violation_penalty: float = Field(default=1.0, ge=0.0)
    """Reward lost for a step with the SLO violated."""
    cost_restart: float = Field(default=0.1, ge=0.0)
    """Reward lost for a restart action."""
    cost_scale_out: float = Field(default=0.05, ge=0.0)
    """Reward lost for a scale_out action."""
    cost_scale_in: float = Field(default=0.05, ge=0.0)
    """Reward lost for a scale_in action."""
    cost_rollback: float = Field(default=0.1, ge=0.0)
    """Reward lost for a rollback action."""
    sweeps: int | None = Field(default=None, ge=1, le=256)
    """Propagation sweeps per step; None picks graph depth + 2 (capped at 16)."""

    @model_validator(mode="after")
    def _ordered(self) -> SimConfig:
        if self.target_util_low > self.target_util_high:
            raise ValueError("target_util_low must be <= target_util_high")
        if self.min_replicas >= self.max_replicas:
            raise ValueError("min_replicas must be < max_replicas")
        if not self.min_replicas <= self.nominal_replicas <= self.max_replicas:
            raise ValueError("nominal_replicas must lie in [min_replicas, max_replicas]")
        if self.restart_backoff_s > self.max_backoff_s:
            raise ValueError("restart_backoff_s must be <= max_backoff_s")
        return self

    def action_cost(self, action_type: str) -> float:
        """Reward cost of one action of ``action_type`` (an ActionType value); noop costs 0."""
        return float(getattr(self, f"cost_{action_type}", 0.0))
