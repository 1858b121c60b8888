"""The registry itself: registration, entry-point discovery, lookup with "did you mean", and the
process-wide default (built-in components plus discovered plugins); see :mod:`aither_wm.registry`."""

from __future__ import annotations

import difflib
import importlib.metadata
import logging
import threading
import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from aither_wm import API_VERSION
from aither_wm.errors import PluginError
from aither_wm.registry.specs import KINDS, ComponentSpec, Entry, PluginSpec, import_target

__all__ = [
    "ENTRY_POINT_GROUP",
    "DiscoveryReport",
    "PluginWarning",
    "Registry",
    "build_registry",
    "default_registry",
]

log = logging.getLogger(__name__)

#: The entry-point group plugins are installed under.
ENTRY_POINT_GROUP = "aither_wm.plugins"


class PluginWarning(UserWarning):
    """A plugin was skipped (broken, wrong API version, refused by the allowlist)."""


@dataclass
class DiscoveryReport:
    """Outcome of :meth:`Registry.discover`.

    Attributes:
        loaded: plugin names registered, with their versions.
        failed: entry-point name -> the reason it was skipped.
    """

    loaded: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class Registry:
    """Components by kind and name.

    Args:
        api_version: the API version plugins must declare (default ``aither_wm.API_VERSION``).
    """

    def __init__(self, *, api_version: int = API_VERSION) -> None:
        self.api_version = api_version
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._lock = threading.Lock()

    # --- registration ---------------------------------------------------------------------

    def register(
        self,
        kind: str,
        name: str,
        target: str | Any,
        *,
        source: str = "runtime",
        description: str = "",
        replace: bool = False,
    ) -> Entry:
        """Register ``target`` (an object or a lazy ``"module:attr"``) as ``kind``/``name``.

        Raises:
            PluginError: unknown kind, empty name, malformed lazy target, or the name is taken
                (unless ``replace``).
        """
        self._check_kind(kind)
        if not isinstance(name, str) or not name.strip():
            raise PluginError(f"a {kind} needs a non-empty name, got {name!r}")
        if isinstance(target, str) and target.count(":") != 1:
            raise PluginError(
                f"lazy target of {kind} {name!r} must be 'module:attr', got {target!r}"
            )
        with self._lock:
            taken = self._entries[kind].get(name)
            if taken is not None and not replace:
                raise PluginError(
                    f"{kind} {name!r} is already registered by {taken.source!r}; "
                    f"pass replace=True to override"
                )
            entry = Entry(
                kind=kind, name=name, target=target, source=source, description=description
            )
            self._entries[kind][name] = entry
            return entry

    def register_plugin(self, spec: PluginSpec) -> None:
        """Check ``spec``'s API version and register its components (all or none).

        Raises:
            PluginError: another API version, a malformed component, or a name clash.
        """
        if not isinstance(spec, PluginSpec):
            raise PluginError(f"expected a PluginSpec, got {type(spec).__name__}")
        if spec.api_version != self.api_version:
            raise PluginError(
                f"plugin {spec.name!r} {spec.version} was written for API version "
                f"{spec.api_version}, this aither-wm speaks {self.api_version}"
            )
        for c in spec.components:
            self._check_kind(c.kind)
            if c.name in self._entries[c.kind]:
                raise PluginError(
                    f"plugin {spec.name!r}: {c.kind} {c.name!r} is already registered by "
                    f"{self._entries[c.kind][c.name].source!r}"
                )
        for c in spec.components:
            self.register(c.kind, c.name, c.target, source=spec.name, description=c.description)

    # --- discovery ------------------------------------------------------------------------

    def discover(
        self, *, group: str = ENTRY_POINT_GROUP, allow: Collection[str] | None = None
    ) -> DiscoveryReport:
        """Register the plugins installed under the entry-point ``group``.

        Args:
            group: the entry-point group.
            allow: when given, only entry points with these names (or from distributions with
                these names) are loaded; the others are reported as refused.

        Each failure is reported in the result and warned with :class:`PluginWarning`; it never
        stops the other plugins from loading. A plugin left out by ``allow`` is reported (and
        logged at DEBUG), not warned about: it is the configuration's choice.
        """
        report = DiscoveryReport()
        for ep in _entry_points(group):
            dist = getattr(getattr(ep, "dist", None), "name", None)
            if allow is not None and ep.name not in allow and dist not in allow:
                # the configuration's own choice: reported and logged, not warned about
                report.failed[ep.name] = f"not in the plugin allowlist {sorted(allow)}"
                log.debug("aither-wm plugin %r skipped: %s", ep.name, report.failed[ep.name])
                continue
            try:
                obj = ep.load()
                spec = obj() if callable(obj) and not isinstance(obj, PluginSpec) else obj
                if not isinstance(spec, PluginSpec):
                    raise PluginError(
                        f"entry point {ep.value!r} gave {type(spec).__name__}, expected a "
                        f"PluginSpec or a callable returning one"
                    )
                self.register_plugin(spec)
            except Exception as e:  # a broken plugin must not block the others
                self._fail(report, ep.name, f"{type(e).__name__}: {e}")
                continue
            report.loaded[spec.name] = spec.version
        return report

    def _fail(self, report: DiscoveryReport, name: str, reason: str) -> None:
        """Record and warn once: a :class:`PluginWarning` (Python shows each distinct one once
        per process; the command line prints it on one line), logged only at DEBUG so that it
        is not printed twice."""
        report.failed[name] = reason
        msg = f"aither-wm plugin {name!r} skipped: {reason}"
        log.debug(msg)
        warnings.warn(msg, PluginWarning, stacklevel=3)

    # --- lookup ---------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> Entry:
        """The entry ``kind``/``name``; PluginError with "did you mean" suggestions on a miss."""
        self._check_kind(kind)
        entry = self._entries[kind].get(name)
        if entry is None:
            known = sorted(self._entries[kind])
            close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise PluginError(f"no {kind} named {name!r} (known: {known}){hint}")
        return entry

    def load(self, kind: str, name: str) -> Any:
        """The component object registered as ``kind``/``name`` (imported lazily)."""
        return self.get(kind, name).load()

    def create(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the registered factory or class with the given arguments."""
        factory = self.load(kind, name)
        if not callable(factory):
            raise PluginError(f"{kind} {name!r} is not callable ({type(factory).__name__})")
        return factory(*args, **kwargs)

    def resolve(self, kind: str, ref: str, *, allowed_modules: Iterable[str] = ()) -> Any:
        """Resolve a reference from a configuration file.

        A plain name is looked up in the registry. A ``"module:attr"`` path is imported only when
        its module is in (or under) one of ``allowed_modules``; by default nothing is.

        Raises:
            PluginError: unknown name, or a path that is not allowlisted.
        """
        if ":" not in ref:
            return self.load(kind, ref)
        module = ref.partition(":")[0]
        allowed = tuple(allowed_modules)
        if not any(module == m or module.startswith(m + ".") for m in allowed):
            raise PluginError(
                f"refusing to import {ref!r} named in a configuration: only registered "
                f"{kind} names are allowed (allowlisted modules: {list(allowed)})"
            )
        return import_target(ref)

    def names(self, kind: str) -> list[str]:
        """Registered names of ``kind``, sorted."""
        self._check_kind(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = KINDS if kind is None else (kind,)
        for k in kinds:
            self._check_kind(k)
        return [self._entries[k][n] for k in kinds for n in sorted(self._entries[k])]

    def describe(self) -> list[dict[str, str]]:
        """One plain dict per component (kind, name, source, target, description)."""
        return [e.describe() for e in self.entries()]

    def _check_kind(self, kind: str) -> None:
        if kind not in self._entries:
            close = difflib.get_close_matches(str(kind), KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PluginError(f"unknown component kind {kind!r} (expected one of {KINDS}){hint}")


def _entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    eps = importlib.metadata.entry_points(group=group)
    seen: set[str] = set()
    out = []
    for ep in eps:  # a distribution visible twice on sys.path yields duplicates
        key = f"{ep.name}={ep.value}"
        if key not in seen:
            seen.add(key)
            out.append(ep)
    return out


#: First-party components that ship inside aither_wm (lazy: nothing is imported here).
_BUILTINS: tuple[ComponentSpec, ...] = (
    ComponentSpec(
        "planner",
        "cem",
        "aither_wm.control.planners:make_cem",
        "categorical CEM over latent rollouts",
    ),
    ComponentSpec(
        "planner",
        "mcts",
        "aither_wm.control.planners:make_mcts",
        "Gumbel-root MCTS over latent rollouts",
    ),
    ComponentSpec(
        "planner",
        "beam",
        "aither_wm.control.planners:make_beam",
        "beam search over latent rollouts",
    ),
    ComponentSpec("policy", "noop", "aither_wm.control.policies:NoopPolicy", "never acts"),
    ComponentSpec(
        "executor",
        "recording",
        "aither_wm.control.executor:RecordingExecutor",
        "records actions, changes nothing (tests, dry runs)",
    ),
)

_default: Registry | None = None
_default_lock = threading.Lock()


def build_registry(*, allow: Collection[str] | None = None, discover: bool = True) -> Registry:
    """A new registry with the built-in components and (unless ``discover`` is False) the
    installed entry-point plugins, restricted to ``allow`` when given."""
    reg = Registry()
    for c in _BUILTINS:
        reg.register(c.kind, c.name, c.target, source="builtin", description=c.description)
    if discover:
        reg.discover(allow=allow)
    return reg


def default_registry(*, refresh: bool = False, allow: Collection[str] | None = None) -> Registry:
    """The process-wide registry: built-in components plus discovered entry-point plugins.

    Built on first use (never at import time). ``refresh`` rebuilds it (after installing a
    plugin); ``allow`` restricts discovery to an allowlist of plugin names (see :meth:`discover`).
    """
    global _default
    with _default_lock:
        if _default is None or refresh:
            _default = build_registry(allow=allow)
        return _default
