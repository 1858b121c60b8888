"""Time strings and unix timestamps: parsing, and choosing between them when they disagree.

Published telemetry carries each time twice: a unix timestamp and a human string. They can
disagree (a time zone applied twice, a skewed or corrupt clock). The metrics' own clock is the
span where the two agree across all metric files of a day; a disagreeing row keeps whichever of
its two times lies in that span (the timestamp when both do: it carries no time zone).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

import numpy as np

__all__ = ["ClockSpan", "choose_times", "parse_time_string"]

# "2022-08-22 03:51:19.799087274 +0000 UTC m=+0.305041286" or "2022-08-22 03:53:54" (ISO too).
_TIME = re.compile(
    r"^\s*(?P<date>\d{4}-\d{2}-\d{2})[ T](?P<clock>\d{2}:\d{2}:\d{2})(?P<frac>\.\d+)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)


def parse_time_string(text: str) -> float:
    """Unix seconds of a time string; a string without an offset is read as UTC. NaN if it does
    not parse."""
    m = _TIME.match(text or "")
    if not m:
        return math.nan
    try:
        dt = datetime.strptime(f"{m['date']} {m['clock']}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return math.nan
    offset = timedelta(0)
    tz = m["tz"]
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    frac = float(m["frac"]) if m["frac"] else 0.0
    return (dt.replace(tzinfo=timezone.utc) - offset).timestamp() + frac


class ClockSpan:
    """The metrics' own clock: [lo_s, hi_s], the span of rows whose two times agree."""

    def __init__(self, lo_s: float, hi_s: float, margin_s: float) -> None:
        self.lo_s, self.hi_s, self.margin_s = lo_s, hi_s, margin_s

    def contains(self, t: np.ndarray) -> np.ndarray:
        """Shape: [R] -> [R] bool."""
        return (t >= self.lo_s - self.margin_s) & (t <= self.hi_s + self.margin_s)


def choose_times(
    stamp: np.ndarray, parsed: np.ndarray, span: ClockSpan, tolerance_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's time from its two candidates.

    Shape: stamp [R], parsed [R] (NaN where missing) -> (times [R] (NaN: row unplaceable),
    used_string [R] bool (the time string won over a disagreeing timestamp), disagree [R] bool).
    """
    both = np.isfinite(stamp) & np.isfinite(parsed)
    disagree = both & (np.abs(stamp - parsed) > tolerance_s)
    stamp_ok = np.isfinite(stamp) & span.contains(np.nan_to_num(stamp, nan=-1e18))
    parsed_ok = np.isfinite(parsed) & span.contains(np.nan_to_num(parsed, nan=-1e18))
    times = np.where(stamp_ok, stamp, np.where(parsed_ok, parsed, np.nan))
    used_string = ~stamp_ok & parsed_ok
    return times, used_string, disagree
