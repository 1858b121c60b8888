"""Reliability benchmark: faults injected and survived, bad input refused, plan load, event storm.

:func:`run_reliability_bench` returns one JSON-able dict (``aither-wm bench reliability``):

* ``faults``: one row per injected fault: recovered or not, recovery time, and transitions lost
  (acknowledged transitions missing afterwards: must be 0; None where no transitions flow);
* ``fuzz``: per target, seeded random cases run and failures found;
* ``load``: plan requests to two planner actors from 1, 8 and 32 concurrent callers
  (throughput, p50 and p99 round trip);
* ``storm``: an event storm at the controller (duplicates shed, decisions within the deadline).

=============  ===========================================================================
module         scenarios
=============  ===========================================================================
common         tiny model, small planner budgets, generated mesh, fast health checks
crash          child processes SIGKILLed mid-append and mid-checkpoint
ray_faults     trainer SIGKILLed mid-training, planners killed / hung, worker node lost
fuzz           seeded fuzzing of parsers, loader, planner API, controller
load           concurrent plan requests, event storm
=============  ===========================================================================

Each scenario is a function the tests call with small sizes (``tests/reliability``). Ray
scenarios need a session (the bench starts an embedded one); :func:`worker_node_lost` starts its
own ``ray.cluster_utils.Cluster`` and needs none running. Processes are killed with SIGKILL (no
cleanup handler runs), as the OOM killer would.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import ray

from aither_wm.bench.reliability.common import (
    CEM_SMALL,
    HEALTH_CHECK_FAST,
    MCTS_SMALL,
    SLACK_MS,
    TINY,
    bench_graph,
    mesh_state,
)
from aither_wm.bench.reliability.crash import crash_mid_append, crash_mid_checkpoint
from aither_wm.bench.reliability.fuzz import fuzz_inputs
from aither_wm.bench.reliability.load import event_storm, plan_load, start_planner_pair
from aither_wm.bench.reliability.ray_faults import (
    planner_faults,
    trainer_killed_mid_training,
    worker_node_lost,
)
from aither_wm.runtime.host import RayHost, RuntimeConfig

__all__ = [
    "CEM_SMALL",
    "HEALTH_CHECK_FAST",
    "MCTS_SMALL",
    "SLACK_MS",
    "TINY",
    "bench_graph",
    "crash_mid_append",
    "crash_mid_checkpoint",
    "event_storm",
    "format_reliability",
    "fuzz_inputs",
    "mesh_state",
    "plan_load",
    "planner_faults",
    "run_reliability_bench",
    "start_planner_pair",
    "trainer_killed_mid_training",
    "worker_node_lost",
]


def run_reliability_bench(
    *,
    quick: bool = False,
    include_node_loss: bool = True,
    seed: int = 0,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Every scenario above; returns ``{"faults", "fuzz", "load", "storm", "seconds", ...}``.

    Args:
        quick: smaller fuzz and load sizes.
        include_node_loss: run the ``Cluster`` node-loss scenario (needs Ray not running yet).
        seed: seed of the fuzzers and the random kill points.
        workdir: where logs and checkpoints go (default: a temporary folder).
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aither-reliability-") as tmp:
        wd = Path(workdir) if workdir is not None else Path(tmp)
        faults = [
            crash_mid_append(wd / "append", mode="tear", seed=seed),
            crash_mid_append(wd / "append", mode="random", seed=seed),
            crash_mid_checkpoint(wd / "ckpt", mode="stall", seed=seed),
            crash_mid_checkpoint(wd / "ckpt", mode="random", seed=seed),
        ]
        fuzz = fuzz_inputs(100 if quick else 400, seed=seed, workdir=wd / "fuzz")
        if include_node_loss and not ray.is_initialized():
            faults.append(worker_node_lost(wd / "node"))
        rt = RuntimeConfig(
            namespace="aither_wm_reliability",
            num_cpus=max(2, os.cpu_count() or 2),
            planner_num_cpus=0.5,
            trainer_num_cpus=0.5,
            max_restarts=3,
            log_to_driver=False,
        )
        host = RayHost(rt)
        host.start()
        try:
            faults.append(trainer_killed_mid_training(wd / "trainer", rt))
            faults.extend(planner_faults(rt))
            pair = start_planner_pair(rt)
            load = plan_load(rt, requests=32 if quick else 128, planners=pair)
            storm = event_storm(rt, wd / "storm", unique=20 if quick else 40, planners=pair)
        finally:
            host.stop()
    return {
        "faults": faults,
        "fuzz": fuzz,
        "load": load,
        "storm": storm,
        "all_recovered": all(r["recovered"] for r in faults),
        "transitions_lost": sum(r["transitions_lost"] or 0 for r in faults),
        "fuzz_failures": sum(r["failures"] for r in fuzz),
        "seconds": round(time.perf_counter() - started, 1),
    }


def format_reliability(result: dict[str, Any]) -> str:
    """The figures as plain-text tables."""
    out = [f"{'fault injected':<46} {'recovered':>9} {'recovery s':>10} {'lost':>5}"]
    for r in result["faults"]:
        lost = "-" if r["transitions_lost"] is None else str(r["transitions_lost"])
        out.append(
            f"{r['fault']:<46} {('yes' if r['recovered'] else 'NO'):>9} {r['recovery_s']:>10} {lost:>5}"
        )
    out += ["", f"{'fuzz target':<42} {'cases':>7} {'failures':>8}"]
    out += [f"{r['target']:<42} {r['cases']:>7} {r['failures']:>8}" for r in result["fuzz"]]
    out += [
        "",
        f"{'callers':>7} {'requests':>8} {'plans/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}",
    ]
    out += [
        f"{r['callers']:>7} {r['requests']:>8} {r['throughput_rps']:>8} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['errors']:>6}"
        for r in result["load"]
    ]
    s = result["storm"]
    out += [
        "",
        f"event storm: {s['events']} events, {s['unique_states']} states -> {s['decisions']} decisions, "
        f"{s['shed']} shed, max decision {s['decision_ms_max']} ms (deadline {s['deadline_ms']:.0f} ms), "
        f"{s['late_decisions']} late",
    ]
    return "\n".join(out)
