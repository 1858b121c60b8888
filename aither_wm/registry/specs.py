"""What the registry holds: the component kinds, a plugin's declaration (:class:`PluginSpec` of
:class:`ComponentSpec`), a registered :class:`Entry`, and the lazy ``"module:attr"`` import."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from aither_wm.errors import PluginError

__all__ = ["KINDS", "ComponentSpec", "Entry", "PluginSpec", "import_target"]

#: Component kinds a registry holds.
KINDS: tuple[str, ...] = ("planner", "executor", "policy", "state_source")


def import_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` and return the attribute.

    Raises:
        PluginError: the string is not ``module:attr`` or the import/attribute lookup failed.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"expected a 'module:attr' target, got {target!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as e:
        raise PluginError(
            f"cannot import {module_name!r} for {target!r}: {type(e).__name__}: {e}"
        ) from e
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise PluginError(
                f"{module_name!r} has no attribute {attr!r} (from {target!r})"
            ) from None
    return obj


@dataclass(frozen=True)
class ComponentSpec:
    """One component a plugin provides.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the name it is looked up by (unique within its kind).
        target: a lazy ``"module:attr"`` string (preferred) or the object itself.
        description: one line for ``aither-wm plugins list``.
    """

    kind: str
    name: str
    target: str | Any
    description: str = ""


@dataclass(frozen=True)
class PluginSpec:
    """What an ``aither_wm.plugins`` entry point resolves to (or a callable returns).

    Attributes:
        name: the plugin's name.
        version: the plugin's own version.
        api_version: the ``aither_wm.API_VERSION`` it was written against.
        components: the components it provides.
    """

    name: str
    version: str
    api_version: int
    components: tuple[ComponentSpec, ...] = ()


@dataclass
class Entry:
    """A registered component (loaded lazily on the first :meth:`load`).

    Attributes:
        kind, name: where it is registered.
        target: ``"module:attr"`` or the object.
        source: who registered it: ``"builtin"``, a plugin name, or ``"runtime"``.
        description: one line.
    """

    kind: str
    name: str
    target: str | Any
    source: str = "runtime"
    description: str = ""
    _loaded: Any = field(default=None, repr=False)
    _is_loaded: bool = field(default=False, repr=False)

    def load(self) -> Any:
        """The component object (imports a lazy target once)."""
        if not self._is_loaded:
            self._loaded = (
                import_target(self.target) if isinstance(self.target, str) else self.target
            )
            self._is_loaded = True
        return self._loaded

    def describe(self) -> dict[str, str]:
        target = self.target if isinstance(self.target, str) else _qualname(self.target)
        return {
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "target": target,
            "description": self.description,
        }


def _qualname(obj: Any) -> str:
    mod = getattr(obj, "__module__", None) or type(obj).__module__
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{mod}:{name}"
