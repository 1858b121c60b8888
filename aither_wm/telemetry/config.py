"""How a telemetry folder is read: the reader's typed, frozen settings."""

from __future__ import annotations

from pydantic import Field

from aither_wm.config import FrozenConfig

__all__ = ["TelemetryConfig"]


class TelemetryConfig(FrozenConfig):
    """Settings of :func:`aither_wm.telemetry.read_telemetry`."""

    step_s: float | None = Field(default=None, gt=0)
    """Sampling interval in seconds; None: the median interval between a pod's rows."""
    clock_tolerance_s: float = Field(default=5.0, ge=0)
    """A row's unix TimeStamp and its time string agree when within this many seconds (the two
    are written a few milliseconds apart)."""
    fault_tolerance_s: float = Field(default=5.0, ge=0)
    """A fault's unix timestamp and time string agree when within this many seconds (after the
    fault list's own time-zone offset, found from all its entries, is removed)."""
    max_fill_steps: int = Field(default=30, ge=0)
    """Missing intervals longer than this many steps are still carried forward, but reported as
    an outage of the service's telemetry."""
