"""The live mesh: a process supervisor that starts, watches and stops real processes.

:class:`LiveMesh` brings up, for one graph, on loopback and free ports:

* per service, ``workers`` processes of :mod:`aither_wm.live.service` sharing the service's port
  (``SO_REUSEPORT``), each with its own admin port (``/metrics``, ``/fault``);
* per cache node, a real ``redis-server`` plus an exporter process reporting it;
* a load generator (:mod:`aither_wm.live.loadgen`) on the entry points;
* a real Prometheus scraping all of them every ``scrape_interval_s`` (file-based service
  discovery, so a scaled-out worker is scraped without a restart).

Every process gets its own session (its pid is its process group), and every pid is written to
``<run_dir>/state.json`` before anything else happens, so :func:`down` — from this process or
another one (``aither-wm live down``) — kills each group (TERM, then KILL) and leaves nothing
behind. The supervisor's actions (restart, scale out/in, deploy, rollback, kill) are what the
live executor calls.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import Field

from aither_wm.config import FrozenConfig
from aither_wm.graph.schema import ServiceGraph
from aither_wm.live.errors import LiveError, MissingBinaryError
from aither_wm.live.service import redis_command

__all__ = ["LiveMesh", "LiveMeshConfig", "down", "free_port", "require_binaries"]

APT_HINT = "install it with: apt-get install -y redis-server prometheus"


class LiveMeshConfig(FrozenConfig):
    """Settings of the live mesh."""

    workers: int = Field(default=1, ge=1, le=16)
    """Worker processes per service at start."""
    max_workers: int = Field(default=3, ge=1, le=16)
    """Scale-out stops here (the action space's replica bound should match)."""
    scrape_interval_s: float = Field(default=1.0, gt=0.0, le=15.0)
    """Prometheus scrape (and rule evaluation) interval."""
    rps: float = Field(default=6.0, gt=0.0, le=500.0)
    """Load generator: requests per second on the entry points."""
    call_timeout_s: float = Field(default=1.0, gt=0.0)
    """Timeout of each dependency call."""
    cpu_limit_cores: float = Field(default=0.25, gt=0.0)
    """CPU budget of one worker (cpu_util is CPU time / this)."""
    memory_limit_mb: float = Field(default=160.0, gt=16.0)
    """Memory budget of one worker; passing it kills the worker (the OOM killer)."""
    start_timeout_s: float = Field(default=40.0, gt=0.0)
    """Longest wait for every process to answer after start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binaries() -> dict[str, str]:
    """Paths of ``redis-server`` and ``prometheus``; MissingBinaryError naming what is missing."""
    found = {b: shutil.which(b) for b in ("redis-server", "prometheus")}
    missing = [b for b, p in found.items() if p is None]
    if missing:
        raise MissingBinaryError(f"{', '.join(missing)} not found on PATH; {APT_HINT}")
    return {b: str(p) for b, p in found.items()}


def _alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _kill_group(pid: int, grace_s: float = 3.0) -> None:
    """TERM the process group ``pid`` leads, then KILL it after ``grace_s``; reap if ours."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
            if not _alive(pid):
                return
            time.sleep(0.05)


def _get(url: str, timeout_s: float = 1.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as r:
        return bytes(r.read())


class LiveMesh:
    """Starts and supervises the live mesh of ``graph`` in ``run_dir`` (see the module docstring).

    Use as a context manager (``with LiveMesh(...) as mesh:``) so the mesh always goes down.
    """

    def __init__(
        self, graph: ServiceGraph, run_dir: str | Path, config: LiveMeshConfig | None = None
    ) -> None:
        self.graph = graph
        self.config = config or LiveMeshConfig()
        self.run_dir = Path(run_dir).resolve()
        self.state_path = self.run_dir / "state.json"
        self.services: dict[str, dict[str, Any]] = {}
        self.procs: dict[str, int] = {}  # key -> pid (= process group)
        self.pids_ever: list[int] = []
        self._popen: dict[int, subprocess.Popen[bytes]] = {}
        self.prometheus_port = 0
        self.loadgen_port = 0

    # lifecycle -------------------------------------------------------------------------------
    def up(self, *, attempts: int = 3) -> LiveMesh:
        """Start everything and wait until every process answers; LiveError on failure.

        Ports are picked free and then bound by the child, so another process can take one in
        between (seen when Ray workers start at the same moment): a start in which a process
        exits is torn down and retried on fresh ports, ``attempts`` times in all.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._up_once()
            except LiveError as e:
                if attempt == attempts or "exited" not in str(e):
                    raise
                self.services.clear()
        raise AssertionError("unreachable")

    def _up_once(self) -> LiveMesh:
        bins = require_binaries()
        cfg = self.config
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "prometheus-data").mkdir(exist_ok=True)
        for name in self.graph.services:
            is_cache = self.graph.kind(name) == "cache"
            self.services[name] = {
                "kind": self.graph.kind(name),
                "port": 0 if is_cache else free_port(),
                "redis_port": free_port() if is_cache else 0,
                "version": 1, "previous_version": 0, "error_fraction": 0.0,
                "admin_ports": [free_port() for _ in range(1 if is_cache else cfg.workers)],
            }  # fmt: skip
        self.prometheus_port, self.loadgen_port = free_port(), free_port()
        self._write_mesh_file()
        try:
            for name, spec in self.services.items():
                if spec["redis_port"]:
                    self._start_redis(name, bins["redis-server"])
                for slot in range(len(spec["admin_ports"])):
                    self._start_worker(name, slot)
            self._write_targets()
            self._write_prometheus_config()
            self._spawn("prometheus", [
                bins["prometheus"], f"--config.file={self.run_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.run_dir / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                "--storage.tsdb.retention.time=2h", "--query.lookback-delta=30s",
            ])  # fmt: skip
            self._wait_ready()
            self._spawn("loadgen", [
                sys.executable, "-m", "aither_wm.live.loadgen", "--mesh", str(self.mesh_path),
                "--admin-port", str(self.loadgen_port), "--rps", str(cfg.rps),
            ])  # fmt: skip
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop every process (each group TERM, then KILL) and mark the state file stopped."""
        for key in sorted(self.procs, key=lambda k: k != "loadgen"):  # traffic stops first
            _kill_group(self.procs[key])
        for pid, p in list(self._popen.items()):
            with contextlib.suppress(Exception):
                p.wait(timeout=1.0)
            self._popen.pop(pid, None)
        self.procs.clear()
        self._save_state(stopped=True)

    def __enter__(self) -> LiveMesh:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus_port}"

    @property
    def mesh_path(self) -> Path:
        return self.run_dir / "mesh.json"

    def stray_pids(self) -> list[int]:
        """Pids this supervisor ever started that still run (empty after :meth:`down`)."""
        return [p for p in self.pids_ever if _alive(p)]

    # actions (what the live executor calls) --------------------------------------------------
    def restart(self, service: str) -> None:
        """Kill and start again every process of ``service`` (same release, same ports)."""
        spec = self._spec(service)
        if spec["redis_port"]:
            self._stop(f"redis:{service}")
            self._start_redis(service, require_binaries()["redis-server"])
            return
        for slot in range(len(spec["admin_ports"])):
            self._stop(f"worker:{service}:{slot}")
            self._start_worker(service, slot)

    def scale(self, service: str, delta: int) -> int:
        """Add (delta > 0) or remove worker processes; returns the new count."""
        spec = self._spec(service)
        if spec["redis_port"]:
            raise LiveError(f"{service!r} is a Redis cache: scaling it is not supported")
        n = len(spec["admin_ports"])
        want = n + int(delta)
        if not 1 <= want <= self.config.max_workers:
            raise LiveError(
                f"{service!r}: {want} workers is outside [1, {self.config.max_workers}]"
            )
        for slot in range(n, want):
            spec["admin_ports"].append(free_port())
            self._start_worker(service, slot)
        for slot in range(want, n):
            self._stop(f"worker:{service}:{slot}")
            spec["admin_ports"].pop()
        self._write_targets()
        self._save_state()
        return want

    def deploy(self, service: str, version: int, *, error_fraction: float = 0.0) -> None:
        """Roll out ``version`` (remembering the current one for rollback)."""
        spec = self._spec(service)
        spec["previous_version"], spec["version"] = spec["version"], int(version)
        spec["error_fraction"] = float(error_fraction)
        spec.setdefault("releases", {})[str(version)] = float(error_fraction)
        self.restart(service)

    def rollback(self, service: str) -> None:
        """Return to the previous release; LiveError when there is none."""
        spec = self._spec(service)
        if not spec["previous_version"]:
            raise LiveError(f"{service!r} has no previous release to roll back to")
        spec["version"], spec["previous_version"] = spec["previous_version"], 0
        spec["error_fraction"] = float(spec.get("releases", {}).get(str(spec["version"]), 0.0))
        self.restart(service)

    def kill(self, service: str, sig: int = signal.SIGKILL) -> None:
        """Kill ``service``'s processes (its Redis for a cache) without restarting them."""
        spec = self._spec(service)
        keys = (
            [f"redis:{service}"]
            if spec["redis_port"]
            else [f"worker:{service}:{i}" for i in range(len(spec["admin_ports"]))]
        )
        for key in keys:
            pid = self.procs.get(key)
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, sig)

    def admin_urls(self, service: str) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self._spec(service)["admin_ports"]]

    # internals -------------------------------------------------------------------------------
    def _spec(self, service: str) -> dict[str, Any]:
        if service not in self.services:
            raise LiveError(f"no service {service!r} in live mesh {self.graph.name!r}")
        return self.services[service]

    def _spawn(self, key: str, cmd: list[str]) -> int:
        log = open(self.run_dir / "logs" / f"{key.replace(':', '_')}.log", "ab")  # noqa: SIM115
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        p = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=self.run_dir, env=env,
        )  # fmt: skip
        log.close()
        self._popen[p.pid] = p
        self.procs[key] = p.pid
        self.pids_ever.append(p.pid)
        self._save_state()  # the pid is on disk before anything can go wrong
        return p.pid

    def _stop(self, key: str) -> None:
        pid = self.procs.pop(key, None)
        if pid is not None:
            _kill_group(pid, grace_s=1.0)
            p = self._popen.pop(pid, None)
            if p is not None:
                with contextlib.suppress(Exception):
                    p.wait(timeout=1.0)

    def _start_worker(self, service: str, slot: int) -> None:
        spec, cfg = self.services[service], self.config
        cmd = [
            sys.executable, "-m", "aither_wm.live.service", "--mesh", str(self.mesh_path),
            "--service", service, "--admin-port", str(spec["admin_ports"][slot]),
            "--version", str(spec["version"]), "--previous-version", str(spec["previous_version"]),
            "--error-fraction", str(spec["error_fraction"]),
            "--cpu-limit-cores", str(cfg.cpu_limit_cores),
            "--memory-limit-mb", str(cfg.memory_limit_mb),
        ]  # fmt: skip
        if spec["redis_port"]:
            cmd += ["--redis-port", str(spec["redis_port"])]
            key = f"exporter:{service}"
        else:
            key = f"worker:{service}:{slot}"
        self._spawn(key, cmd)

    def _start_redis(self, service: str, binary: str) -> None:
        port = self.services[service]["redis_port"]
        self._spawn(f"redis:{service}", [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--protected-mode", "no", "--maxmemory", "64mb",
        ])  # fmt: skip
        deadline = time.monotonic() + self.config.start_timeout_s
        while True:
            try:
                redis_command(port, "PING")
                return
            except OSError as e:
                if time.monotonic() > deadline:
                    raise LiveError(
                        f"redis for {service!r} on port {port} did not start: {e}"
                    ) from None
                time.sleep(0.05)

    def _wait_ready(self) -> None:
        urls = [f"{self.prometheus_url}/-/ready"] + [
            f"{u}/healthz" for s in self.services for u in self.admin_urls(s)
        ]
        deadline = time.monotonic() + self.config.start_timeout_s
        for url in urls:
            while True:
                try:
                    _get(url)
                    break
                except OSError as e:
                    dead = [k for k, pid in self.procs.items() if not _alive(pid)]
                    if dead or time.monotonic() > deadline:
                        why = f"exited: {dead} (logs in {self.run_dir / 'logs'})" if dead else e
                        raise LiveError(f"live mesh did not come up: {url}: {why}") from None
                    time.sleep(0.1)

    def _write_mesh_file(self) -> None:
        edges: dict[str, list[dict[str, Any]]] = {}
        for u, v, d in self.graph.digraph.edges(data=True):
            edges.setdefault(u, []).append({"to": v, "hard": d.get("dependency", "hard") != "soft"})
        mesh = {
            "graph": self.graph.name,
            "entrypoints": list(self.graph.entrypoints),
            "call_timeout_s": self.config.call_timeout_s,
            "services": {n: {"kind": s["kind"], "port": s["port"], "redis_port": s["redis_port"]}
                         for n, s in self.services.items()},
            "edges": edges,
        }  # fmt: skip
        self.mesh_path.write_text(json.dumps(mesh, indent=1), encoding="utf-8")

    def _write_targets(self) -> None:
        groups = [
            {"targets": [f"127.0.0.1:{p}"], "labels": {"service": name, "worker": str(i)}}
            for name, spec in self.services.items()
            for i, p in enumerate(spec["admin_ports"])
        ]
        tmp = self.run_dir / "targets.json.tmp"
        tmp.write_text(json.dumps(groups), encoding="utf-8")
        tmp.replace(self.run_dir / "targets.json")  # atomic: Prometheus never reads half a file

    def _write_prometheus_config(self) -> None:
        ms = round(self.config.scrape_interval_s * 1000)
        (self.run_dir / "prometheus.yml").write_text(
            f"""global:
  scrape_interval: {ms}ms
  scrape_timeout: {round(0.9 * ms)}ms
  evaluation_interval: {ms}ms
scrape_configs:
  - job_name: aither-live
    file_sd_configs:
      - files: ["{self.run_dir / "targets.json"}"]
        refresh_interval: 1s
  - job_name: aither-client
    static_configs:
      - targets: ["127.0.0.1:{self.loadgen_port}"]
        labels: {{service: "__client__"}}
""",
            encoding="utf-8",
        )

    def _save_state(self, *, stopped: bool = False) -> None:
        state = {
            "graph": self.graph.name,
            "stopped": stopped,
            "prometheus_url": self.prometheus_url,
            "processes": dict(self.procs),
            "pids_ever": self.pids_ever,
            "services": self.services,
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1), encoding="utf-8")
        tmp.replace(self.state_path)


def down(run_dir: str | Path) -> dict[str, Any]:
    """Stop the mesh recorded in ``run_dir/state.json`` (from any process); returns a summary."""
    path = Path(run_dir) / "state.json"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LiveError(f"{path}: no live mesh state to stop ({e})") from None
    for pid in state.get("processes", {}).values():
        _kill_group(int(pid))
    stray = [p for p in state.get("pids_ever", []) if _alive(int(p))]
    for pid in stray:  # anything replaced but still running (should be none)
        _kill_group(int(pid))
    state.update(stopped=True, processes={})
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")
    left = [p for p in state.get("pids_ever", []) if _alive(int(p))]
    return {"run_dir": str(run_dir), "stopped": len(state.get("pids_ever", [])), "stray": left}
