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
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aither_wm.graph.schema import ServiceGraph
from aither_wm.live.config import LiveMeshConfig
from aither_wm.live.errors import LiveError
from aither_wm.live.files import write_mesh_file, write_prometheus_config, write_targets
from aither_wm.live.procs import free_port, http_get, is_alive, kill_group, require_binaries
from aither_wm.live.service import redis_command
from aither_wm.wait import wait_until

__all__ = ["LiveMesh", "LiveMeshConfig", "down", "free_port", "require_binaries"]


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
                "version": 1,
                "previous_version": 0,
                "error_fraction": 0.0,
                "admin_ports": [free_port() for _ in range(1 if is_cache else cfg.workers)],
            }
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
            self._spawn(
                "prometheus",
                [
                    bins["prometheus"],
                    f"--config.file={self.run_dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.run_dir / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                    "--storage.tsdb.retention.time=2h",
                    "--query.lookback-delta=30s",
                ],
            )
            self._wait_ready()
            self._spawn(
                "loadgen",
                [
                    sys.executable,
                    "-m",
                    "aither_wm.live.loadgen",
                    "--mesh",
                    str(self.mesh_path),
                    "--admin-port",
                    str(self.loadgen_port),
                    "--rps",
                    str(cfg.rps),
                ],
            )
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> None:
        """Stop every process (each group TERM, then KILL) and mark the state file stopped."""
        for key in sorted(self.procs, key=lambda k: k != "loadgen"):  # traffic stops first
            kill_group(self.procs[key])
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
        return [p for p in self.pids_ever if is_alive(p)]

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
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.run_dir,
            env=env,
        )
        log.close()
        self._popen[p.pid] = p
        self.procs[key] = p.pid
        self.pids_ever.append(p.pid)
        self._save_state()  # the pid is on disk before anything can go wrong
        return p.pid

    def _stop(self, key: str) -> None:
        pid = self.procs.pop(key, None)
        if pid is not None:
            kill_group(pid, grace_s=1.0)
            p = self._popen.pop(pid, None)
            if p is not None:
                with contextlib.suppress(Exception):
                    p.wait(timeout=1.0)

    def _start_worker(self, service: str, slot: int) -> None:
        spec, cfg = self.services[service], self.config
        cmd = [
            sys.executable,
            "-m",
            "aither_wm.live.service",
            "--mesh",
            str(self.mesh_path),
            "--service",
            service,
            "--admin-port",
            str(spec["admin_ports"][slot]),
            "--version",
            str(spec["version"]),
            "--previous-version",
            str(spec["previous_version"]),
            "--error-fraction",
            str(spec["error_fraction"]),
            "--cpu-limit-cores",
            str(cfg.cpu_limit_cores),
            "--memory-limit-mb",
            str(cfg.memory_limit_mb),
        ]
        if spec["redis_port"]:
            cmd += ["--redis-port", str(spec["redis_port"])]
            key = f"exporter:{service}"
        else:
            key = f"worker:{service}:{slot}"
        self._spawn(key, cmd)

    def _start_redis(self, service: str, binary: str) -> None:
        port = self.services[service]["redis_port"]
        self._spawn(
            f"redis:{service}",
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--maxmemory",
                "64mb",
            ],
        )
        last: list[OSError] = []

        def answers() -> bool:
            try:
                redis_command(port, "PING")
                return True
            except OSError as e:
                last[:] = [e]
                return False

        if not wait_until(answers, timeout_s=self.config.start_timeout_s, interval_s=0.05):
            raise LiveError(f"redis for {service!r} on port {port} did not start: {last[-1]}")

    def _wait_ready(self) -> None:
        urls = [f"{self.prometheus_url}/-/ready"] + [
            f"{u}/healthz" for s in self.services for u in self.admin_urls(s)
        ]
        deadline = time.monotonic() + self.config.start_timeout_s
        for url in urls:
            last: list[OSError] = []

            def answers(url: str = url, last: list[OSError] = last) -> bool:
                try:
                    http_get(url)
                    return True
                except OSError as e:
                    dead = [k for k, pid in self.procs.items() if not is_alive(pid)]
                    if dead:
                        raise LiveError(
                            f"live mesh did not come up: {url}: exited: {dead} "
                            f"(logs in {self.run_dir / 'logs'})"
                        ) from None
                    last[:] = [e]
                    return False

            if not wait_until(answers, timeout_s=deadline - time.monotonic(), interval_s=0.1):
                raise LiveError(f"live mesh did not come up: {url}: {last[-1]}")

    def _write_mesh_file(self) -> None:
        write_mesh_file(self.mesh_path, self.graph, self.services, self.config.call_timeout_s)

    def _write_targets(self) -> None:
        write_targets(self.run_dir, self.services)

    def _write_prometheus_config(self) -> None:
        write_prometheus_config(self.run_dir, self.config.scrape_interval_s, self.loadgen_port)

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
        kill_group(int(pid))
    stray = [p for p in state.get("pids_ever", []) if is_alive(int(p))]
    for pid in stray:  # anything replaced but still running (should be none)
        kill_group(int(pid))
    state.update(stopped=True, processes={})
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")
    left = [p for p in state.get("pids_ever", []) if is_alive(int(p))]
    return {"run_dir": str(run_dir), "stopped": len(state.get("pids_ever", [])), "stray": left}
