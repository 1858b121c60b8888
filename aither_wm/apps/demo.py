"""``aither-wm demo``: the main job, end to end on embedded local Ray.

1. simulate the topology with faults (the simulator's behaviour policy) -> transitions;
2. train the world model on the trainer actor (progress polled from its ``control`` group),
   which checkpoints atomically and publishes version 1;
3. the CEM and MCTS planner actors pull version 1;
4. run autoheal episodes: the same injected fault, the same seeds, under four controllers:
   ``cem`` and ``mcts`` (the controller asks both planners every step, acts on that one's plan),
   ``autoheal`` (the controller picks the lower predicted cost) and ``baseline`` (the reactive
   runbook); every one passes through the same safety guard (acting, not dry-run);
5. report SLO-violation minutes, actions taken, planner latency p50/p95 and agreement between
   the planners (:mod:`aither_wm.apps.demo_report`); with ``out_dir``: report.md, report.json,
   PNG plots, the audit log and the checkpoint.

The quick run (``quick=True``) is sized for under a minute on 2 CPU cores. The embedded Ray has
the machine's CPUs; the actors' shares are derived from them (``aither_wm.runtime.resources``:
fractions on a 2-core machine), so both planners start wherever the demo runs.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ray

from aither_wm.apps.defaults import DEFAULT_GRAPH
from aither_wm.apps.demo_report import CONTROLLED, MODES, DemoRun, build_report
from aither_wm.apps.presets import FULL, QUICK, DemoSettings
from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import (
    AutohealController,
    ControlDecision,
    ControllerConfig,
    PickPolicy,
)
from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.episodes import Scenario, SlotExecutor, controller_policy, guarded_policy, play
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import Transition
from aither_wm.progress import Progress, TqdmProgress
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.metrics import record_decision
from aither_wm.runtime.plugin import AitherPlugin, PlannerSpec, PluginConfig
from aither_wm.wait import wait_until

__all__ = ["run_demo"]

_PICKS: dict[str, PickPolicy] = {
    "cem": "prefer_cem",
    "mcts": "prefer_mcts",
    "autoheal": "lowest_cost",
}


class _Timer:
    """Wall time of each phase, in seconds, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - t


def run_demo(
    out_dir: Path | str | None = None,
    *,
    quick: bool = False,
    graph_path: Path | str | None = None,
    seed: int = 0,
    progress: bool | Progress = False,
    runtime: RuntimeConfig | None = None,
    settings: DemoSettings | None = None,
) -> dict[str, Any]:
    """Run the demo (see the module docstring) and return the report as a dict.

    Args:
        out_dir: folder for report.md, report.json, plots, audit log, checkpoint (None: nothing
            is written but a temporary checkpoint).
        quick: the small run (under a minute on 2 cores).
        graph_path: the topology (default :data:`~aither_wm.apps.defaults.DEFAULT_GRAPH`).
        seed: fixes the data, the model's initialisation, the faults and the planners' seeds.
        progress: a :class:`~aither_wm.progress.Progress`, or True for bars and phase lines on
            stderr.
        runtime: Ray settings (default: embedded, the machine's CPUs, 200 MB object store).
        settings: sizes (default :data:`~aither_wm.apps.presets.QUICK` or ``FULL``).
    """
    started = time.perf_counter()
    s = settings or (QUICK if quick else FULL)
    graph = load_graph(graph_path or DEFAULT_GRAPH)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    timer = _Timer()
    with contextlib.ExitStack() as stack:
        # The trainer's own checkpoint (its restart point) lives where the trainer runs; the
        # demo's output checkpoint is written from the published weights, wherever it ran.
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aither-demo-")))
        plugin = AitherPlugin(
            _plugin_config(graph, s, seed, runtime, tmp / "trainer.pt"), graph=graph
        )
        stack.callback(plugin.stop)
        audit = stack.enter_context(AuditLog(out / "audit.jsonl")) if out is not None else None
        report: Progress | None = None
        if progress is True:
            report = stack.enter_context(TqdmProgress("demo"))
        elif callable(progress):
            report = progress
        with timer("simulate_s"):
            transitions = _simulate(graph, s, seed, report)
        with timer("ray_start_s"):
            host = plugin.setup()
            plugin.start()
        _note(report, "ray", {k: host[k] for k in ("mode", "cpus", "object_store_mb")})
        with timer("train_s"):
            training = _train(plugin, transitions, report)
        versions = plugin.sync_weights(timeout_s=120)
        _note(report, "weights", versions)
        if out is not None:
            _save_published(plugin, s, out / "world_model.pt", training, graph)
        with timer("episodes_s"):
            results, decisions = _play_episodes(graph, s, seed, plugin, audit, report)
    run = DemoRun(
        graph=graph,
        settings=s,
        quick=quick,
        seed=seed,
        host=host,
        versions=versions,
        training=training,
        results=results,
        decisions=decisions,
        timings=timer.seconds,
    )
    return build_report(run, out=out, started=started)


def _note(progress: Progress | None, phase: str, info: dict[str, Any]) -> None:
    if progress is not None:
        progress(phase, info)


def _plugin_config(
    graph: ServiceGraph,
    s: DemoSettings,
    seed: int,
    runtime: RuntimeConfig | None,
    checkpoint: Path,
) -> PluginConfig:
    rt = runtime or RuntimeConfig(object_store_mb=200, namespace="aither_wm_demo")
    return PluginConfig(
        graph=str(graph.source),
        runtime=rt,
        model=s.model,
        train=s.train.model_copy(update={"seed": seed}),
        checkpoint=str(checkpoint),
        trainer_transitions_log=None,
        planners={
            "cem": PlannerSpec(kind="cem", config=s.cem),
            "mcts": PlannerSpec(kind="mcts", config=s.mcts),
        },
        poll_interval_s=None,
    )


def _simulate(
    graph: ServiceGraph, s: DemoSettings, seed: int, progress: Progress | None
) -> list[Transition]:
    """Phase 1: transitions of the simulator's behaviour policy with faults."""
    from aither_wm.sim.scenarios import generate_transitions

    total = s.data_episodes * s.data_steps
    transitions = []
    for i, tr in enumerate(
        generate_transitions(graph, episodes=s.data_episodes, steps=s.data_steps, seed=seed)
    ):
        transitions.append(tr)
        if i % 200 == 0:
            _note(progress, "simulate", {"n": i + 1, "total": total})
    _note(progress, "simulate", {"n": len(transitions), "total": len(transitions)})
    return transitions


def _train(
    plugin: AitherPlugin, transitions: list[Transition], progress: Progress | None
) -> dict[str, Any]:
    """Phase 2: train on the trainer actor, its progress polled from the ``control`` group."""
    ray.get(plugin.trainer.ingest.remote(transitions), timeout=300)
    train_ref = plugin.trainer.train.remote()

    def finished() -> bool:
        if ray.wait([train_ref], timeout=0)[0]:
            return True
        p = ray.get(plugin.trainer.progress.remote(), timeout=30)
        if p.get("total"):
            _note(progress, "train", {"n": int(p["step"]), "total": int(p["total"])})
        return False

    wait_until(finished, timeout_s=math.inf, interval_s=0.25)
    training: dict[str, Any] = ray.get(train_ref)
    _note(progress, "train", {"n": training["steps"], "total": training["steps"]})
    return training


def _save_published(
    plugin: AitherPlugin,
    s: DemoSettings,
    path: Path,
    training: dict[str, Any],
    graph: ServiceGraph,
) -> None:
    """Write the trainer's published weights as an atomic checkpoint on this machine."""
    from aither_wm.models import WorldModel
    from aither_wm.train import save_checkpoint

    version, (ref,) = ray.get(plugin.trainer.latest.remote(), timeout=60)
    wm = WorldModel(s.model)
    wm.load_state_dict(ray.get(ref, timeout=120))
    meta = {
        "transitions": training["transitions"],
        "steps": training["steps"],
        "graphs": [graph.name],
    }
    save_checkpoint(wm, path, version=version, meta=meta)


def _play_episodes(
    graph: ServiceGraph,
    s: DemoSettings,
    seed: int,
    plugin: AitherPlugin,
    audit: AuditLog | None,
    progress: Progress | None,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[ControlDecision]]]:
    """Phase 3: one episode per fault under every controller; per-episode scores and decisions."""
    from aither_wm.sim import MeshSimulator
    from aither_wm.sim.scenarios import episode_seeds
    from aither_wm.sim.slo import score_episode

    dispatcher = plugin.dispatcher()
    slots = {mode: SlotExecutor() for mode in CONTROLLED}
    controllers = {
        mode: AutohealController(
            graph,
            dispatcher,
            slots[mode],
            audit=audit,
            config=ControllerConfig(
                pick=_PICKS[mode],
                deadline_ms=s.deadline_ms,
                guard=s.guard,
                seed=seed,
                min_weights_version=1,
            ),
        )
        for mode in CONTROLLED
    }
    mesh_seed, _, ep_seeds = episode_seeds(seed, len(s.faults))
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    decisions: dict[str, list[ControlDecision]] = {m: [] for m in MODES}
    total, done = len(MODES) * len(s.faults), 0
    for e, fault in enumerate(s.faults):
        for mode in MODES:
            sim = MeshSimulator(graph, seed=mesh_seed)
            if mode == "baseline":
                policy = guarded_policy(ReactivePolicy(), graph, s.guard, sim)
            else:
                controllers[mode].reset_episode()
                policy = controller_policy(controllers[mode], slots[mode], sim, decisions[mode])
            scenario = Scenario(fault, ep_seeds[e], mesh_seed, s.episode_steps, s.onset_step)
            before = len(decisions[mode])
            ep = play(sim, scenario, policy)
            for d in decisions[mode][before:]:  # Ray's metrics endpoint shows them as they come
                record_decision(d.to_record())
            score = score_episode(
                ep.slo,
                step_seconds=sim.config.step_seconds,
                effects=ep.effects,
                onset_step=ep.onset_step,
            )
            target = ep.fault.target if ep.fault is not None else None
            results[mode].append({"fault": fault, "target": target, **score})
            done += 1
            _note(progress, "episodes", {"n": done, "total": total})
    return results, decisions
