"""The project's exception hierarchy.

Every error the library raises on purpose derives from :class:`AitherError`, so a host can catch
one class. Messages say what was expected and what came instead. :func:`one_line` and
:func:`validation_message` put any error on one line (a log line, a CLI message, an audit field).
"""

from __future__ import annotations

from pydantic import ValidationError

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
    "TelemetryError",
    "one_line",
    "validation_message",
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


class TelemetryError(AitherError, ValueError):
    """A telemetry folder cannot be read at all (no day folder, no metric file, no service)."""


class PluginError(AitherError):
    """A plugin is missing, broken, or speaks another API version."""


def validation_message(error: ValidationError, *, show_input: bool = True) -> str:
    """The first error of a pydantic ``ValidationError`` on one line.

    ``"<field.path>: <message> (got <input>)"``; the path is the model's name when the error is
    about the whole object, and the input's repr is cut at 60 characters.
    """
    err = error.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or error.title
    text = f"{where}: {err['msg']}"
    return f"{text} (got {err.get('input')!r:.60})" if show_input else text


def one_line(error: BaseException, *, with_type: bool = False) -> str:
    """``error`` as one line, for a log line, a CLI message or a report field.

    A wrapped remote error (Ray's ``.cause``) is unwrapped first; a pydantic ``ValidationError``
    gives :func:`validation_message`. Otherwise the message's lines are joined with ``"; "``
    (pydantic's "For further information" links dropped), or, with ``with_type``, the exception's
    type and the message's last line (where a remote traceback ends), cut at 300 characters.
    """
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    if isinstance(error, ValidationError):
        text = validation_message(error)
        return f"{type(error).__name__}: {text}"[:300] if with_type else text
    lines = [x.strip() for x in str(error).splitlines() if x.strip()]
    if with_type:
        return f"{type(error).__name__}: {lines[-1] if lines else ''}"[:300]
    return "; ".join(x for x in lines if not x.startswith("For further information"))
