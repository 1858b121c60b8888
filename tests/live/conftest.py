"""Live-mesh tests need redis-server and prometheus (CI installs them: see .ci/run).

They fail, not skip, when either is missing. Until the ``aither-live`` entry point is installed the
plugin is imported from ``plugins/`` (``aither_wm.live.heal.live_components`` registers it).
"""

from __future__ import annotations

import sys
from pathlib import Path

_PLUGINS = str(Path(__file__).resolve().parents[2] / "plugins")
if _PLUGINS not in sys.path:
    sys.path.append(_PLUGINS)
