"""Mesh states read from Prometheus (one PromQL query per metric, every service at once).

Each query is evaluated at the same instant and grouped ``by (service)``; the defaults in
:data:`DEFAULT_QUERIES` match the series :mod:`aither_wm.live.service` exports, and any of them
can be replaced (``queries={"cpu": "..."}``; ``{window}`` is the rate window).

What is never done: turning an absent answer into a zero. Per service:

* Prometheus unreachable, slow (over ``timeout_s``) or refusing a query: :class:`PrometheusError`.
* the service has no scrape target (``up`` series missing) or its newest scrape is older than
  ``stale_after_s``, or a metric series is missing while its target is up: the service is
  **stale**. With ``on_missing="stale"`` (default) its last good state is carried forward and it is
  listed in :attr:`PrometheusStateSource.stale`; with ``"error"`` (or no last good state) observe
  raises :class:`PrometheusError` naming the services and metrics.
* every target scraped but reporting ``up == 0`` or no ready worker: the service is observed
  **down** (replicas 0, error rate 1): that is an observation, not a gap.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from aither_wm.graph import MeshState, ServiceGraph, ServiceState
from aither_wm.live.errors import PrometheusError
from aither_wm.live.prom import PromClient

__all__ = ["DEFAULT_QUERIES", "PrometheusStateSource"]

_JOB = 'job="aither-live"'
_HIST = "aither_request_latency_seconds_bucket"

#: PromQL per metric; each must return one series per service (label ``service``).
DEFAULT_QUERIES: dict[str, str] = {
    "targets": f"count by (service) (up{{{_JOB}}})",
    "targets_up": f"sum by (service) (up{{{_JOB}}})",
    "age_s": f"max by (service) (time() - timestamp(up{{{_JOB}}}))",
    "ready": "sum by (service) (aither_ready)",
    "cpu": "sum by (service) (rate(aither_cpu_seconds_total[{window}]))"
    " / sum by (service) (aither_cpu_limit_cores)",
    "memory": "max by (service) (aither_memory_bytes / aither_memory_limit_bytes)",
    "rps": "sum by (service) (rate(aither_requests_total[{window}]))",
    "errors": 'sum by (service) (rate(aither_requests_total{outcome="error"}[{window}]))',
    "p50_ms": f"1000 * histogram_quantile(0.5, sum by (service, le) (rate({_HIST}[{{window}}])))",
    "p99_ms": f"1000 * histogram_quantile(0.99, sum by (service, le) (rate({_HIST}[{{window}}])))",
    "version": "max by (service) (aither_version)",
    "previous_version": "max by (service) (aither_previous_version)",
}
#: Metrics a running service must have (missing while its target is up: stale).
_REQUIRED = ("ready", "cpu", "memory", "rps", "version")


class PrometheusStateSource:
    """A live mesh as a state source, through Prometheus' HTTP API.

    Args:
        graph: the mesh (service names are the ``service`` label).
        prometheus_url: the server; or ``run_dir`` (a live mesh's folder) to read it from its
            ``state.json``.
        queries: replacements for :data:`DEFAULT_QUERIES` entries.
        window: rate window, e.g. ``"4s"`` (at least 2-3 scrape intervals).
        timeout_s: longest wait for one query.
        stale_after_s: a newest scrape older than this marks the service stale.
        on_missing: ``"stale"`` (carry the last good state forward, list it) or ``"error"``.
        error_high: error rate from which a running service is reported ``degraded``.
    """

    def __init__(
        self,
        graph: ServiceGraph,
        *,
        prometheus_url: str | None = None,
        run_dir: str | Path | None = None,
        queries: Mapping[str, str] | None = None,
        window: str = "4s",
        timeout_s: float = 2.0,
        stale_after_s: float = 5.0,
        on_missing: Literal["stale", "error"] = "stale",
        error_high: float = 0.05,
    ) -> None:
        if prometheus_url is None:
            if run_dir is None:
                raise PrometheusError("PrometheusStateSource needs prometheus_url or run_dir")
            state = json.loads((Path(run_dir) / "state.json").read_text(encoding="utf-8"))
            prometheus_url = str(state["prometheus_url"])
        unknown = sorted(set(queries or {}) - set(DEFAULT_QUERIES))
        if unknown:
            raise PrometheusError(
                f"unknown metric queries {unknown}; known: {sorted(DEFAULT_QUERIES)}"
            )
        if on_missing not in ("stale", "error"):
            raise PrometheusError(f"on_missing must be 'stale' or 'error', got {on_missing!r}")
        self.graph = graph
        self.client = PromClient(prometheus_url, timeout_s=timeout_s)
        self.queries = {
            k: v.replace("{window}", window)
            for k, v in {**DEFAULT_QUERIES, **dict(queries or {})}.items()
        }
        self.stale_after_s = float(stale_after_s)
        self.on_missing = on_missing
        self.error_high = float(error_high)
        self.step = 0
        self.stale: dict[str, str] = {}
        """Services carried forward at the last observe, with why."""
        self.observed_at: float | None = None
        self._last: dict[str, ServiceState] = {}

    def observe(self) -> MeshState:
        """Query every metric at one instant and build the state (see the module docstring)."""
        at = time.time()
        values = {name: self.client.by_label(q, at=at) for name, q in self.queries.items()}
        services: dict[str, ServiceState] = {}
        gaps: dict[str, str] = {}
        for name in self.graph.services:
            built, why = self._service(name, values)
            if built is not None:
                services[name] = built
                self._last[name] = built
            elif self.on_missing == "stale" and name in self._last:
                services[name], gaps[name] = self._last[name], why
            else:
                gaps[name] = why
        missing = {n: w for n, w in gaps.items() if n not in services}
        if missing:
            shown = "; ".join(f"{n}: {w}" for n, w in list(missing.items())[:5])
            raise PrometheusError(
                f"Prometheus at {self.client.base_url} has no usable series for "
                f"{len(missing)} service(s) ({shown})"
            )
        self.stale = gaps
        self.observed_at = at
        state = MeshState(graph=self.graph.name, step=self.step, services=services)
        self.step += 1
        return state

    def _service(
        self, name: str, v: dict[str, dict[str, float]]
    ) -> tuple[ServiceState | None, str]:
        targets = v["targets"].get(name)
        if targets is None:
            return None, "no scrape target (series 'up' missing)"
        age = v["age_s"].get(name)
        if age is None or not math.isfinite(age) or age > self.stale_after_s:
            return None, f"newest scrape is {age if age is not None else '?'} s old"
        up = v["targets_up"].get(name, 0.0)
        ready = v["ready"].get(name, 0.0) if up > 0 else 0.0
        version = int(v["version"].get(name, self._last[name].version if name in self._last else 1))
        prev = int(v["previous_version"].get(name, 0)) or None
        if ready < 0.5:  # every target down or not ready: observed down
            last = self._last.get(name)
            return ServiceState(
                cpu_util=0.0, memory_util=0.0, latency_p50_ms=last.latency_p50_ms if last else 0.0,
                latency_p99_ms=last.latency_p99_ms if last else 0.0, error_rate=1.0,
                request_rate_rps=0.0, replicas=0, health="down", version=version,
                previous_version=prev,
            ), ""  # fmt: skip
        absent = [m for m in _REQUIRED if name not in v[m] or not math.isfinite(v[m][name])]
        if absent:
            return None, f"series missing while its target is up: {absent}"
        rps = max(0.0, v["rps"][name])
        errors = v["errors"].get(name, 0.0)
        err = min(1.0, max(0.0, errors / rps)) if rps > 1e-9 else 0.0
        last = self._last.get(name)
        p50, p99 = v["p50_ms"].get(name, math.nan), v["p99_ms"].get(name, math.nan)
        if not (math.isfinite(p50) and math.isfinite(p99)):  # no request in the window
            p50 = last.latency_p50_ms if last else 0.0
            p99 = last.latency_p99_ms if last else 0.0
        replicas = round(ready)
        health = "healthy"
        if err >= self.error_high or up < targets or replicas < targets:
            health = "degraded"
        return ServiceState(
            cpu_util=min(1.0, max(0.0, v["cpu"][name])),
            memory_util=min(1.0, max(0.0, v["memory"][name])),
            latency_p50_ms=min(1e7, max(0.0, p50)),
            latency_p99_ms=min(1e7, max(0.0, p99, p50)),
            error_rate=err, request_rate_rps=rps, replicas=replicas, health=health,
            version=version, previous_version=prev,
        ), ""  # fmt: skip

    def executor(self) -> Any:
        """Not available from the source alone: build ``SupervisorExecutor`` with the mesh."""
        raise PrometheusError("the live executor needs the mesh supervisor: use SupervisorExecutor")
