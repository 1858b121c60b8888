"""What a heal run reads from Prometheus besides the state source: the client's SLO, and a probe
that polls a fault's symptom until it first shows (the observation delay)."""

from __future__ import annotations

import threading
import time

from aither_wm.live.errors import PrometheusError
from aither_wm.live.prom import PromClient

__all__ = ["SymptomProbe", "client_slo"]


def client_slo(client: PromClient, window: str) -> tuple[float | None, float | None]:
    """(client error rate, client p99 ms); None where there was no traffic in the window."""
    rate = f"sum(rate(aither_client_requests_total[{window}]))"
    err = client.scalar(
        f'sum(rate(aither_client_requests_total{{outcome="error"}}[{window}])) / {rate}'
    )
    p99 = client.scalar(
        f"1000 * histogram_quantile(0.99, sum by (le) (rate(aither_client_latency_seconds_bucket[{window}])))"
    )
    return err, p99


class SymptomProbe(threading.Thread):
    """Polls the fault's symptom query until it first shows (observation delay)."""

    def __init__(self, client: PromClient, expr: str, target: str) -> None:
        super().__init__(daemon=True)
        self.client, self.expr, self.target = client, expr, target
        self.seen_s: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if self.target in self.client.by_label(self.expr):
                    self.seen_s = time.time()
                    return
            except PrometheusError:
                pass
            self.stop.wait(0.2)

    def close(self) -> None:
        self.stop.set()
        self.join(timeout=5.0)
