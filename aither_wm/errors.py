"""The project's exception hierarchy.

Every error the library raises on purpose derives from :class:`AitherError`, so a host can catch
one class. Messages say what was expected and what came instead.
"""

from __future__ import annotations

__all__ = [
    "ActionError",
    "AitherError",
    "CheckpointError",
    "ConfigError",
    "GraphError",
    "LogError",
    "PlanningError",
    "PluginError",
    "ShapeError",
    "StateError",
]


class AitherError(Exception):
    """Root of every error raised on purpose by aither-wm."""


class ConfigError(AitherError, ValueError):
    """A configuration value or file is invalid."""


class GraphError(AitherError, ValueError):
    """A service-dependency graph file or dict is malformed (names the file and the entry)."""


class StateError(AitherError, ValueError):
    """A mesh state does not match its graph, or holds an impossible value."""


class ActionError(AitherError, ValueError):
    """An action names an unknown type or service, or is invalid in the current state."""


class ShapeError(AitherError, ValueError):
    """A tensor given to a public entry point has the wrong shape, dtype or device."""


class CheckpointError(AitherError):
    """A checkpoint is missing, corrupt, foreign, or carries a forbidden payload."""


class LogError(AitherError):
    """A transitions or audit log cannot be opened or written."""


class PlanningError(AitherError):
    """A planner was asked something it cannot do (no valid action, bad horizon, ...)."""


class PluginError(AitherError):
    """A plugin is missing, broken, or speaks another API version."""
