"""The plugin registry: components by kind and name, lazy ``"module:attr"`` entries, entry points.

A component is anything a host may swap: a ``planner``, an ``executor``, a ``policy`` or a
``state_source``. Each is registered under a kind and a name, as
the object itself or as a lazy ``"module:attr"`` string imported on first use.

Third-party (and first-party) plugins are found ONLY through the ``aither_wm.plugins`` entry-point
group of installed distributions::

    [project.entry-points."aither_wm.plugins"]
    my-plugin = "my_package.aither:plugin"       # a PluginSpec, or a callable returning one

A :class:`PluginSpec` declares the plugin's name, version, the API version it was written against
(``aither_wm.API_VERSION``) and its components as lazy strings; discovery imports only the small
module holding the spec. A plugin that fails to import, returns something else or speaks another
API version is reported with a :class:`PluginWarning` (and logged) and skipped; the others load.

Nothing is ever imported from a path written in a configuration file unless the caller passes an
explicit allowlist of module prefixes (:meth:`Registry.resolve`).
"""

from aither_wm.registry.core import (
    ENTRY_POINT_GROUP,
    DiscoveryReport,
    PluginWarning,
    Registry,
    build_registry,
    default_registry,
)
from aither_wm.registry.specs import KINDS, ComponentSpec, Entry, PluginSpec, import_target

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "ComponentSpec",
    "DiscoveryReport",
    "Entry",
    "PluginSpec",
    "PluginWarning",
    "Registry",
    "build_registry",
    "default_registry",
    "import_target",
]
