"""Data on disk: the transitions log (append-only JSONL, validated reads, quarantine)."""

from aither_wm.data.log import (
    ReadReport,
    TransitionLogWriter,
    iter_transitions,
    parse_line,
    read_transitions,
)

__all__ = [
    "ReadReport",
    "TransitionLogWriter",
    "iter_transitions",
    "parse_line",
    "read_transitions",
]
