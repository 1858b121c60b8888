"""A minimal client of Prometheus' HTTP API (instant queries), strict about failures.

Prometheus down, too slow, answering an error, or answering something that is not a vector: each is
a :class:`~aither_wm.live.errors.PrometheusError` naming the server and the query. Nothing here ever
turns a failure into a number.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request

from aither_wm.live.errors import PrometheusError

__all__ = ["PromClient"]


class PromClient:
    """Instant queries against ``base_url`` (e.g. ``http://127.0.0.1:9090``).

    Args:
        base_url: the server.
        timeout_s: longest wait for one answer (a slower server is an error).
    """

    def __init__(self, base_url: str, *, timeout_s: float = 2.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)

    def query(self, expr: str, *, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """``(labels, value)`` per series of the instant vector ``expr`` (at time ``at``).

        NaN values (e.g. a quantile of no requests) are returned as NaN, not dropped or zeroed.
        """
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"{self.base_url}/api/v1/query?{urllib.parse.urlencode(params)}"
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as r:
                body = json.loads(r.read())
        except TimeoutError:
            raise PrometheusError(
                f"Prometheus at {self.base_url} did not answer within {self.timeout_s:g} s "
                f"(query {expr!r})"
            ) from None
        except urllib.error.HTTPError as e:
            detail = e.read()[:200].decode(errors="replace")
            raise PrometheusError(
                f"Prometheus at {self.base_url} refused query {expr!r}: HTTP {e.code} {detail}"
            ) from None
        except (OSError, ValueError) as e:
            took = time.monotonic() - started
            why = "timed out" if took >= self.timeout_s * 0.95 else f"unreachable ({e})"
            raise PrometheusError(f"Prometheus at {self.base_url} {why} (query {expr!r})") from None
        if body.get("status") != "success":
            raise PrometheusError(f"Prometheus query {expr!r} failed: {body.get('error', body)}")
        data = body.get("data", {})
        if data.get("resultType") != "vector":
            raise PrometheusError(
                f"query {expr!r} gave a {data.get('resultType')!r}, expected an instant vector"
            )
        out = []
        for row in data.get("result", []):
            raw = row["value"][1]
            value = float(raw) if raw not in ("NaN", "+Inf", "-Inf") else float(raw.lower())
            out.append((dict(row["metric"]), value))
        return out

    def by_label(
        self, expr: str, label: str = "service", *, at: float | None = None
    ) -> dict[str, float]:
        """``{label value: value}`` of ``expr``; series without ``label`` are ignored."""
        return {m[label]: v for m, v in self.query(expr, at=at) if label in m}

    def scalar(self, expr: str, *, at: float | None = None) -> float | None:
        """The single value of ``expr``; None when the vector is empty (no series), never 0."""
        rows = self.query(expr, at=at)
        if not rows:
            return None
        value = rows[0][1]
        return value if not math.isnan(value) else None
