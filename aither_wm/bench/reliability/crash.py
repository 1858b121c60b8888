"""Processes SIGKILLed mid-append and mid-checkpoint (real child processes, no Ray).

A kill lands where a crash hurts most: half a transitions-log line written (a torn tail), or a
new checkpoint's temporary file written and not yet renamed. The log must keep every complete
line and report the torn one; the checkpoint on disk must be the previous good one.
"""

from __future__ import annotations

import itertools
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aither_wm.bench.reliability.common import bench_graph
from aither_wm.data.log import TransitionLogWriter, read_transitions
from aither_wm.errors import AitherError
from aither_wm.train.checkpoint import load_checkpoint
from aither_wm.train.toy import toy_transitions

__all__ = ["crash_mid_append", "crash_mid_checkpoint"]


class _Child:
    """A Python child process whose stdout lines are read by a thread (never blocking)."""

    def __init__(self, code: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def wait_for(self, accept: Callable[[str], bool], timeout_s: float = 120.0) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                raise TimeoutError(f"child gave no matching line (exit {self.proc.poll()})")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if accept(line):
                return line

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


_APPEND_CHILD = r"""
import sys, time
from aither_wm.data.log import TransitionLogWriter
from aither_wm.graph.state import Transition
src, dst, mode, tear_at = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
trs = [Transition.model_validate_json(x) for x in open(src, "rb").read().splitlines()]
w = TransitionLogWriter(dst)
print("READY", flush=True)
for i, t in enumerate(trs):
    if mode == "tear" and i == tear_at:  # the process dies in the middle of one line
        raw = t.model_dump_json().encode()
        with open(dst, "ab") as f:
            f.write(raw[: len(raw) // 2])
        print("TORN", flush=True)
        time.sleep(600)
    w.append(t)
    print(i + 1, flush=True)
time.sleep(600)
"""


def crash_mid_append(
    workdir: str | Path, *, mode: str = "tear", lines: int = 120, seed: int = 0
) -> dict[str, Any]:
    """A real process appending to a transitions log is SIGKILLed mid-append.

    ``mode="tear"`` kills it after it wrote half of line ``lines // 2 + 1`` (a torn tail, made
    deterministic); ``mode="random"`` kills it at a random moment of a fast append loop. Checks:
    every line the child acknowledged is in the log, in order, byte-equal; the reader reports the
    torn tail (if any) and keeps every complete line; a new writer terminates the torn line and
    appends after it.
    """
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    g = bench_graph()
    trs = toy_transitions(g, steps=lines, seed=seed)
    src, dst = wd / f"source-{mode}.jsonl", wd / f"log-{mode}.jsonl"
    src.write_text("".join(t.model_dump_json() + "\n" for t in trs))
    dst.unlink(missing_ok=True)
    tear_at = lines // 2
    child = _Child(_APPEND_CHILD, str(src), str(dst), mode, str(tear_at))
    child.wait_for(lambda s: s == "READY")
    if mode == "tear":
        child.wait_for(lambda s: s == "TORN")
        acked = tear_at
    else:
        target = random.Random(seed).randint(lines // 4, lines - 1)
        acked = int(child.wait_for(lambda s: s.isdigit() and int(s) >= target))
    child.kill()
    t0 = time.perf_counter()
    after_crash = read_transitions(dst)
    got = [t.model_dump_json() for t in after_crash.transitions]
    want = [t.model_dump_json() for t in trs[:acked]]
    lost = sum(1 for a, b in itertools.zip_longest(want, got[:acked]) if a != b)
    with TransitionLogWriter(dst) as w:  # recovery: the next writer appends after the torn line
        w.append(trs[-1])
    after_recovery = read_transitions(dst)
    recovery_s = time.perf_counter() - t0
    torn_expected = mode == "tear"
    ok = (
        lost == 0
        and (after_crash.torn_tail or not torn_expected)
        and len(after_crash.bad_lines) <= 1
        and len(after_recovery.transitions) == len(after_crash.transitions) + 1
        and not after_recovery.torn_tail
    )
    return {
        "fault": f"process SIGKILLed mid-append ({mode})",
        "recovered": ok,
        "recovery_s": round(recovery_s, 4),
        "transitions_lost": lost,
        "acknowledged": acked,
        "complete_lines": len(after_crash.transitions),
        "torn_tail": after_crash.torn_tail,
        "bad_lines": after_crash.bad_lines,
    }


_CKPT_CHILD = r"""
import os, sys, time, torch
from aither_wm.config import WorldModelConfig
from aither_wm.models.world_model import WorldModel
from aither_wm.train.checkpoint import save_checkpoint
path, mode = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = WorldModel(WorldModelConfig())  # the default size: an 11 MB checkpoint
save_checkpoint(model, path, version=1)
print("SAVED 1", flush=True)
if mode == "stall":  # the disk stalls on the temporary file's fsync: the kill lands there
    def stall(fd):
        print("FSYNC", flush=True)
        time.sleep(600)
    os.fsync = stall
for v in range(2, 10**6):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    save_checkpoint(model, path, version=v)
    print("SAVED", v, flush=True)
"""


def crash_mid_checkpoint(
    workdir: str | Path, *, mode: str = "stall", seed: int = 0
) -> dict[str, Any]:
    """A real process writing an 11 MB checkpoint is SIGKILLed mid-write.

    ``mode="stall"`` kills it while the new checkpoint's temporary file is written but not yet
    renamed (deterministic); ``mode="random"`` kills it at a random moment of a save loop.
    Checks: the checkpoint on disk loads (``weights_only``) and is the last one acknowledged
    (stall: byte-equal to version 1).
    """
    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    path = wd / f"wm-{mode}.pt"
    path.unlink(missing_ok=True)
    child = _Child(_CKPT_CHILD, str(path), mode)
    child.wait_for(lambda s: s == "SAVED 1")
    v1 = path.read_bytes()
    if mode == "stall":
        child.wait_for(lambda s: s == "FSYNC")
        acked = 1
    else:
        rng = random.Random(seed)
        target = rng.randint(2, 4)
        acked = int(
            child.wait_for(lambda s: s.startswith("SAVED") and int(s.split()[1]) >= target).split()[
                1
            ]
        )
        time.sleep(rng.uniform(0.0, 0.08))  # land somewhere inside the next save
    child.kill()
    t0 = time.perf_counter()
    try:
        ck = load_checkpoint(path)
        version, error = ck.version, None
    except AitherError as e:
        version, error = None, str(e)
    recovery_s = time.perf_counter() - t0
    temps = sorted(p.name for p in wd.glob(f".{path.name}.*.tmp"))
    ok = error is None and version is not None and version >= acked
    if mode == "stall":
        ok = ok and version == 1 and path.read_bytes() == v1
    for t in temps:  # a crash leaves its temporary file behind; it is never read
        (wd / t).unlink(missing_ok=True)
    return {
        "fault": f"process SIGKILLed mid-checkpoint ({mode})",
        "recovered": ok,
        "recovery_s": round(recovery_s, 4),
        "transitions_lost": None,
        "acknowledged_version": acked,
        "version_on_disk": version,
        "stale_temp_files": len(temps),
        "error": error,
    }
