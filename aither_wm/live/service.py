"""One worker process of one live service (``python -m aither_wm.live.service``).

A worker serves ``GET /call`` on the service's port (shared by every worker of the service through
``SO_REUSEPORT``, so scale-out is "start another worker") and calls each of its callees per the
graph's edges, with a timeout: HTTP for services, a Redis ``GET``/``SET`` for cache nodes. A failed
hard dependency fails the request (HTTP 500); a failed soft one is ignored. Visited services travel
in the ``X-Aither-Path`` header, so cyclic graphs do not recurse forever.

On its own admin port the worker exposes ``/metrics`` (prometheus-client, scraped by Prometheus)
and ``POST /fault`` (fault injection, see :mod:`aither_wm.live.faults`). Exported series (the
``service`` and ``worker`` labels are added by Prometheus from the scrape target):

==================================  ===============================================
``aither_requests_total{outcome}``  requests served, ``ok`` or ``error``
``aither_request_latency_seconds``  histogram of request latency
``aither_cpu_seconds_total``        CPU time of the process (of redis-server for a cache)
``aither_cpu_limit_cores``          the CPU budget of one worker
``aither_memory_bytes``             resident memory (of redis-server for a cache)
``aither_memory_limit_bytes``       the memory budget (exceeding it is an OOM kill)
``aither_version``                  deployed release; ``aither_previous_version`` (0: none)
``aither_ready``                    1 when the worker can serve (a cache: Redis answers PING)
==================================  ===============================================

With ``--redis-port`` the process is the exporter of a cache node instead: it serves no traffic
and reports the Redis server's own numbers (``INFO``), probing it with ``PING`` at each scrape.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["FaultState", "main", "redis_command"]

_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0)
_PAGE = os.sysconf("SC_PAGE_SIZE")


def redis_command(port: int, *args: str, timeout_s: float = 0.5) -> bytes:
    """Send one RESP command to the Redis on ``127.0.0.1:port``; returns the raw reply.

    Raises:
        OSError: connection refused, timeout, or an error reply (``-ERR ...``).
    """
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(payload)
        data = b""
        while not data.endswith(b"\r\n") or (data[:1] == b"$" and data.count(b"\r\n") < 2):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data[:1] == b"$" and not data.startswith(b"$-1"):
                size = int(data[1 : data.index(b"\r\n")])
                if len(data) >= data.index(b"\r\n") + 2 + size + 2:
                    break
    if not data or data[:1] == b"-":
        raise OSError(f"redis on port {port} answered {data[:80]!r}")
    return data


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class FaultState:
    """Faults injected into this worker (all cleared by a restart: they live in the process)."""

    def __init__(self) -> None:
        self.extra_latency_s = 0.0
        self.latency_callee: str | None = None
        self.burn_s = 0.0
        self.leak_mb_per_s = 0.0
        self._leak: list[bytearray] = []
        self._lock = threading.Lock()

    def apply(self, spec: dict[str, Any]) -> None:
        kind = spec.get("kind")
        with self._lock:
            if kind == "latency":
                self.extra_latency_s = float(spec.get("latency_ms", 400)) / 1e3
                self.latency_callee = spec.get("callee")
            elif kind == "cpu_hog":
                self.burn_s = float(spec.get("burn_ms", 40)) / 1e3
            elif kind == "memory_leak":
                self.leak_mb_per_s = float(spec.get("mb_per_s", 20))
            elif kind == "clear":
                self.extra_latency_s, self.latency_callee, self.burn_s = 0.0, None, 0.0
                self.leak_mb_per_s, self._leak = 0.0, []
            else:
                raise ValueError(f"unknown fault kind {kind!r}")

    def leak_tick(self, dt_s: float) -> None:
        if self.leak_mb_per_s > 0:
            block = bytearray(int(self.leak_mb_per_s * dt_s * 2**20))
            block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not virtual
            self._leak.append(block)


class Worker:
    """State of one worker: its mesh view, metrics and faults."""

    def __init__(self, args: argparse.Namespace) -> None:
        with open(args.mesh, encoding="utf-8") as f:
            self.mesh: dict[str, Any] = json.load(f)
        self.name: str = args.service
        self.args = args
        self.faults = FaultState()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aither_requests", "requests served", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "aither_request_latency_seconds",
            "request latency",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        for outcome in ("ok", "error"):
            self.requests.labels(outcome=outcome)
        self.registry.register(self)  # the collect() below
        self.call_timeout_s = float(self.mesh.get("call_timeout_s", 1.0))

    # prometheus-client custom collector: the process numbers, read at scrape time
    def collect(self):  # type: ignore[no-untyped-def]
        a = self.args
        cpu, mem, ready = time.process_time(), float(_rss_bytes()), 1.0
        if a.redis_port:
            started = time.perf_counter()
            try:
                info = redis_command(a.redis_port, "INFO").decode(errors="replace")
                fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
                cpu = float(fields["used_cpu_sys"]) + float(fields["used_cpu_user"])
                mem = float(fields["used_memory_rss"])
                self.requests.labels(outcome="ok").inc(0)
                self._redis_cmds(int(fields["total_commands_processed"]))
                self.latency.observe(time.perf_counter() - started)
            except (OSError, KeyError, ValueError):
                ready, cpu, mem = 0.0, 0.0, 0.0
        for name, doc, value in (
            ("aither_cpu_limit_cores", "CPU budget of one worker", a.cpu_limit_cores),
            ("aither_memory_bytes", "resident memory", mem),
            ("aither_memory_limit_bytes", "memory budget", a.memory_limit_mb * 2**20),
            ("aither_version", "deployed release", a.version),
            (
                "aither_previous_version",
                "release a rollback returns to (0: none)",
                a.previous_version,
            ),
            ("aither_ready", "1 when able to serve", ready),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))
        yield CounterMetricFamily("aither_cpu_seconds", "CPU time", value=cpu)

    _last_cmds = 0

    def _redis_cmds(self, total: int) -> None:
        """Count Redis commands since the last scrape as served requests."""
        if self._last_cmds and total >= self._last_cmds:
            self.requests.labels(outcome="ok").inc(total - self._last_cmds)
        self._last_cmds = total

    # traffic ---------------------------------------------------------------------------------
    def handle_call(self, path: list[str]) -> bool:
        """Serve one request: faults, then the callees. True when it succeeded."""
        f = self.faults
        if f.burn_s > 0:
            end = time.process_time() + f.burn_s
            while time.process_time() < end:
                pass
        if f.extra_latency_s > 0 and f.latency_callee is None:
            time.sleep(f.extra_latency_s)
        if self.args.error_fraction > 0 and random.random() < self.args.error_fraction:
            return False  # the bad release
        visited = [*path, self.name]
        ok = True
        for edge in self.mesh["edges"].get(self.name, ()):
            callee = edge["to"]
            if callee in visited:
                continue
            if f.extra_latency_s > 0 and f.latency_callee == callee:
                time.sleep(f.extra_latency_s)
            if not self._call(callee, visited) and edge.get("hard", True):
                ok = False
        return ok

    def _call(self, callee: str, visited: list[str]) -> bool:
        spec = self.mesh["services"][callee]
        try:
            if spec.get("redis_port"):
                key = f"cart:{random.randint(0, 99)}"
                redis_command(spec["redis_port"], "SET", key, "1", timeout_s=self.call_timeout_s)
                redis_command(spec["redis_port"], "GET", key, timeout_s=self.call_timeout_s)
                return True
            req = urllib.request.Request(
                f"http://127.0.0.1:{spec['port']}/call",
                headers={"X-Aither-Path": ",".join(visited)},
            )
            with urllib.request.urlopen(req, timeout=self.call_timeout_s) as r:
                return bool(r.status == 200)
        except (OSError, urllib.error.URLError, ValueError):
            return False


class _ReusePortServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def _traffic_handler(worker: Worker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not self.path.startswith("/call"):
                self.send_error(404)
                return
            started = time.perf_counter()
            raw = self.headers.get("X-Aither-Path", "")
            ok = worker.handle_call([p for p in raw.split(",") if p])
            worker.latency.observe(time.perf_counter() - started)
            worker.requests.labels(outcome="ok" if ok else "error").inc()
            body = b"ok\n" if ok else b"error\n"
            self.send_response(200 if ok else 500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a: object) -> None:
            pass

    return Handler


def _admin_handler(worker: Worker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body = generate_latest(worker.registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
            elif self.path.startswith("/healthz"):
                body = b"ok\n"
                self.send_response(200)
            else:
                self.send_error(404)
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if not self.path.startswith("/fault"):
                self.send_error(404)
                return
            try:
                n = int(self.headers.get("Content-Length", "0"))
                worker.faults.apply(json.loads(self.rfile.read(n) or b"{}"))
            except (ValueError, TypeError) as e:
                self.send_error(400, str(e))
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    return Handler


def _leak_loop(worker: Worker) -> None:
    """Grow the leak, and play the OOM killer when resident memory passes the limit."""
    limit = worker.args.memory_limit_mb * 2**20
    while True:
        time.sleep(0.25)
        worker.faults.leak_tick(0.25)
        if _rss_bytes() > limit:
            print(f"{worker.name}: memory limit exceeded: OOM kill", file=sys.stderr, flush=True)
            os._exit(137)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aither_wm.live.service")
    p.add_argument("--mesh", required=True, help="mesh.json written by the supervisor")
    p.add_argument("--service", required=True)
    p.add_argument("--admin-port", type=int, required=True)
    p.add_argument("--redis-port", type=int, default=0, help="be the exporter of this Redis")
    p.add_argument("--version", type=int, default=1)
    p.add_argument("--previous-version", type=int, default=0)
    p.add_argument("--error-fraction", type=float, default=0.0, help="a bad release's failures")
    p.add_argument("--cpu-limit-cores", type=float, default=0.25)
    p.add_argument("--memory-limit-mb", type=float, default=160.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    worker = Worker(args)
    servers = [ThreadingHTTPServer(("127.0.0.1", args.admin_port), _admin_handler(worker))]
    servers[0].daemon_threads = True
    if not args.redis_port:
        port = int(worker.mesh["services"][args.service]["port"])
        servers.append(_ReusePortServer(("127.0.0.1", port), _traffic_handler(worker)))
    threading.Thread(target=_leak_loop, args=(worker,), daemon=True).start()
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
