"""aither-wm: a latent world model (JEPA + SIGReg) that detects, plans and heals a service mesh."""

from __future__ import annotations

__version__ = "0.1.0"

#: Version of the public plugin API; plugins declare the one they were written against.
API_VERSION = 1

__all__ = ["API_VERSION", "__version__"]
