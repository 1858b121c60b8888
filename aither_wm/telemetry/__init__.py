"""Real telemetry: read a folder of per-pod metrics under injected faults (the Nezha layout) into
a ServiceGraph, regular per-service series, MeshStates and placed faults.

Public API: :func:`read_telemetry` -> :class:`Telemetry` (its :class:`TelemetryDay` s and the
:class:`ReadReport` of every repair made), :class:`TelemetryConfig`, the column mapping
(:data:`FIELDS`, :data:`SOURCES`), :func:`service_of`.
"""

from aither_wm.telemetry.config import TelemetryConfig
from aither_wm.telemetry.day import Telemetry, TelemetryDay
from aither_wm.telemetry.faults import Fault
from aither_wm.telemetry.mapping import FIELDS, SOURCES
from aither_wm.telemetry.pods import service_of
from aither_wm.telemetry.reader import day_folders, read_telemetry
from aither_wm.telemetry.report import NOTE_KINDS, Note, ReadReport

__all__ = [
    "FIELDS",
    "NOTE_KINDS",
    "SOURCES",
    "Fault",
    "Note",
    "ReadReport",
    "Telemetry",
    "TelemetryConfig",
    "TelemetryDay",
    "day_folders",
    "read_telemetry",
    "service_of",
]
