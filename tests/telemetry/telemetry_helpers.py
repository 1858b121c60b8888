"""Small telemetry folders written in the test (never by editing the shipped data)."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = (
    "Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),MemoryUsageRate(%),"
    "PodClientLatencyP90(s),PodServerLatencyP90(s),PodClientLatencyP99(s),PodServerLatencyP99(s),"
    "PodWorkload(Ops),PodSuccessRate(%)"
)
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def time_string(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.123 +0000 UTC")


def row(
    pod: str,
    t: float,
    cpu: float = 20.0,
    lat_s: float = 0.05,
    stamp: float | None = None,
    success: float = 100.0,
) -> str:
    stamp = t if stamp is None else stamp
    return f"{time_string(t)},{int(stamp)},{pod},5,{cpu},10,12,{lat_s},{lat_s},{2 * lat_s},{2 * lat_s},4,{success}"


def write_day(
    root: Path,
    day: str = "d1",
    pods: dict[str, list[str]] | None = None,
    steps: int = 40,
    edges: list[tuple[str, str]] = (("alpha", "beta"),),
    faults: list[dict] | None = None,
    entry_success: float = 100.0,
) -> Path:
    """A day folder: pods (name -> rows; default two healthy pods), dependency, entry, faults."""
    metric = root / day / "metric"
    metric.mkdir(parents=True)
    if pods is None:
        pods = {
            p: [row(p, T0 + 60 * k) for k in range(steps)]
            for p in ("alpha-5f6585d649-abcde", "beta-579f59597d-fghij")
        }
    for pod, rows in pods.items():
        (metric / f"{pod}_metric.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    (metric / "dependency.csv").write_text(
        "Source,Target,Weight\n" + "".join(f"{u},{v},1\n" for u, v in edges)
    )
    (metric / "front_service.csv").write_text(
        "Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP90(s)\n"
        + "".join(
            f"{time_string(T0 + 60 * k)},{T0 + 60 * k},Alpha,{entry_success},0.1\n"
            for k in range(steps)
        )
    )
    (root / day / f"{day}-fault_list.json").write_text(json.dumps({"00": faults or []}))
    return root
