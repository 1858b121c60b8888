"""The load generator (``python -m aither_wm.live.loadgen``): steady traffic on the entry points.

Each of ``--threads`` threads sends ``GET /call`` to a random entry point, paced so the total is
``--rps`` requests per second, with a client timeout. What the client sees is the SLO's view and is
exported for Prometheus on ``--admin-port``: ``aither_client_requests_total{outcome}`` and the
histogram ``aither_client_latency_seconds``.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m aither_wm.live.loadgen")
    p.add_argument("--mesh", required=True)
    p.add_argument("--admin-port", type=int, required=True)
    p.add_argument("--rps", type=float, default=6.0)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--timeout-s", type=float, default=2.0)
    args = p.parse_args(argv)
    with open(args.mesh, encoding="utf-8") as f:
        mesh = json.load(f)
    ports = [mesh["services"][s]["port"] for s in mesh["entrypoints"]]
    registry = CollectorRegistry()
    requests = Counter("aither_client_requests", "client requests", ["outcome"], registry=registry)
    for outcome in ("ok", "error"):
        requests.labels(outcome=outcome)
    latency = Histogram(
        "aither_client_latency_seconds",
        "client-side latency",
        registry=registry,
        buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0),
    )
    period_s = args.threads / max(args.rps, 1e-3)

    def run(offset: float) -> None:
        time.sleep(offset)
        next_at = time.monotonic()
        while True:
            started = time.perf_counter()
            ok = False
            try:
                url = f"http://127.0.0.1:{random.choice(ports)}/call"
                with urllib.request.urlopen(url, timeout=args.timeout_s) as r:
                    ok = r.status == 200
            except (OSError, urllib.error.URLError, ValueError):
                ok = False
            latency.observe(time.perf_counter() - started)
            requests.labels(outcome="ok" if ok else "error").inc()
            next_at += period_s
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - period_s)

    for i in range(args.threads):
        threading.Thread(target=run, args=(i * period_s / args.threads,), daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.admin_port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
