"""Errors of the live mesh (all derive from :class:`~aither_wm.errors.AitherError`)."""

from __future__ import annotations

from aither_wm.errors import AitherError

__all__ = ["LiveError", "MissingBinaryError", "PrometheusError"]


class LiveError(AitherError):
    """The live mesh could not be started, reached, or acted on."""


class MissingBinaryError(LiveError):
    """A required program (redis-server, prometheus) is not installed."""


class PrometheusError(LiveError):
    """Prometheus is down, too slow, or does not have the series asked for."""
