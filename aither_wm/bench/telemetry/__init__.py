"""``aither-wm bench telemetry``: the world model on real telemetry (:mod:`.run`)."""

from aither_wm.bench.telemetry.run import (
    DEFAULT_DATA,
    PUBLISHED,
    TelemetryBenchConfig,
    format_telemetry,
    run_telemetry_bench,
)

__all__ = [
    "DEFAULT_DATA",
    "PUBLISHED",
    "TelemetryBenchConfig",
    "format_telemetry",
    "run_telemetry_bench",
]
