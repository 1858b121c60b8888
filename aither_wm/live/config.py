"""Settings of the live mesh and of a heal run, and the fault names (pydantic and plain values
only: the command line reads their defaults without starting anything)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aither_wm.config import FrozenConfig

__all__ = ["FAULTS", "HealConfig", "LiveMeshConfig"]

#: The faults :func:`aither_wm.live.faults.inject` knows (see that module for what each does).
FAULTS: tuple[str, ...] = (
    "redis_kill",
    "process_kill",
    "cpu_hog",
    "memory_leak",
    "bad_deploy",
    "dependency_latency",
)


class LiveMeshConfig(FrozenConfig):
    """Settings of the live mesh."""

    workers: int = Field(default=1, ge=1, le=16)
    """Worker processes per service at start."""
    max_workers: int = Field(default=3, ge=1, le=16)
    """Scale-out stops here (the action space's replica bound should match)."""
    scrape_interval_s: float = Field(default=1.0, gt=0.0, le=15.0)
    """Prometheus scrape (and rule evaluation) interval."""
    rps: float = Field(default=6.0, gt=0.0, le=500.0)
    """Load generator: requests per second on the entry points."""
    call_timeout_s: float = Field(default=1.0, gt=0.0)
    """Timeout of each dependency call."""
    cpu_limit_cores: float = Field(default=0.25, gt=0.0)
    """CPU budget of one worker (cpu_util is CPU time / this)."""
    memory_limit_mb: float = Field(default=160.0, gt=16.0)
    """Memory budget of one worker; passing it kills the worker (the OOM killer)."""
    start_timeout_s: float = Field(default=40.0, gt=0.0)
    """Longest wait for every process to answer after start."""


class HealConfig(FrozenConfig):
    """One ``live heal`` run."""

    fault: str
    """Fault name (see :data:`aither_wm.live.faults.FAULTS`)."""
    target: str | None = None
    """Service to break (default: :func:`~aither_wm.live.faults.default_target`)."""
    policy: Literal["reactive", "cem", "mcts"] = "reactive"
    """Who decides: the reactive rules, or a world-model planner (rules as fallback)."""
    duration_s: float = Field(default=60.0, gt=0.0)
    """Longest time after the fault before giving up."""
    tick_s: float = Field(default=1.0, gt=0.0)
    """Control period: one observation and decision per tick."""
    baseline_ticks: int = Field(default=3, ge=0)
    """Ticks observed before the fault."""
    warmup_timeout_s: float = Field(default=45.0, gt=0.0)
    """Longest wait for a healthy mesh before the fault."""
    hold_s: float = Field(default=5.0, ge=0.0)
    """The SLO must hold this long (``1 + ceil(hold_s / tick_s)`` ticks in a row) to count as
    mitigated."""
    slo_error_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    """SLO: the client's error rate at most this."""
    slo_p99_ms: float = Field(default=1000.0, gt=0.0)
    """SLO: the client's p99 latency at most this."""
    stop_when_recovered: bool = True
    """End the run once mitigated (else run the full duration)."""
    cooldown_s: float = Field(default=6.0, ge=0.0)
    """Guard cooldown per service (a restart needs a few scrapes to show)."""
    train_steps: int = Field(default=150, ge=1)
    """World-model training steps on simulated transitions (cem/mcts)."""
    mesh: LiveMeshConfig = LiveMeshConfig()
    """The live mesh."""
