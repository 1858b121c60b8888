"""Moved: the demo is :mod:`aither_wm.apps.demo`, its sizes :mod:`aither_wm.apps.presets`.

Transitional: this module only re-exports the presets for code that still imports them from here
(``from aither_wm.runtime.demo import FULL``); import them from ``aither_wm.apps.presets``. It is
deleted once nothing imports it.
"""

from aither_wm.apps.presets import FULL, QUICK, DemoSettings

__all__ = ["FULL", "QUICK", "DemoSettings"]
