"""Processes on this machine: free ports, the binaries the live mesh needs, whether a pid runs,
and stopping a whole process group."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import urllib.request

from aither_wm.live.errors import MissingBinaryError
from aither_wm.wait import wait_until

__all__ = ["APT_HINT", "free_port", "http_get", "is_alive", "kill_group", "require_binaries"]

APT_HINT = "install it with: apt-get install -y redis-server prometheus"


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


def is_alive(pid: int) -> bool:
    """True when ``pid`` runs (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def kill_group(pid: int, grace_s: float = 3.0) -> None:
    """TERM the process group ``pid`` leads, then KILL it after ``grace_s``; reap if ours."""

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        return not is_alive(pid)

    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        if wait_until(gone, timeout_s=grace_s if sig == signal.SIGTERM else 2.0, interval_s=0.05):
            return


def http_get(url: str, timeout_s: float = 1.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as r:
        return bytes(r.read())
