"""``aither-wm live heal``: bring a live mesh up, break it, let the autoheal controller fix it.

One run (:func:`run_heal`):

1. start the :class:`~aither_wm.live.mesh.LiveMesh` and get the ``live`` state source and
   executor from the plugin registry (the path a production host takes);
2. warm up: observe until every service is healthy and the client SLO holds;
3. a few baseline ticks, then inject the fault; a probe polls Prometheus every 0.2 s for the
   fault's symptom (the observation delay: fault -> first sample that shows it);
4. tick the :class:`~aither_wm.runtime.loop.ControlLoop` every ``tick_s``: observe through
   Prometheus, decide (planner, or the reactive rules), guard, execute on real processes, audit;
5. stop when the SLO (client error rate and p99) and the target's health have held for
   ``hold_s``, or at ``duration_s``; tear everything down.

The world-model policies (``cem``, ``mcts``) plan with a small world model trained on the
simulator of the same graph (same feature semantics), cached in ``model_dir``.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from aither_wm.config import FrozenConfig
from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import AutohealController, ControllerConfig
from aither_wm.control.guard import GuardConfig
from aither_wm.control.planners import LocalDispatcher, PlannerService
from aither_wm.control.policies import ReactiveConfig, ReactivePolicy
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import ActionType, MeshState
from aither_wm.live.errors import LiveError, PrometheusError
from aither_wm.live.faults import FAULTS, default_target, inject, symptom_query
from aither_wm.live.mesh import LiveMesh, LiveMeshConfig
from aither_wm.live.prom import PromClient
from aither_wm.registry import Registry, default_registry
from aither_wm.runtime.loop import ControlLoop

__all__ = ["HealConfig", "live_components", "run_heal", "train_sim_model"]

Log = Callable[[str], None]


class HealConfig(FrozenConfig):
    """One ``live heal`` run."""

    fault: str
    """Fault name (see :data:`aither_wm.live.faults.FAULTS`)."""
    target: str | None = None
    """Service to break (default: :func:`~aither_wm.live.faults.default_target`)."""
    policy: Literal["reactive", "cem", "mcts"] = "reactive"
    """Who decides: the reactive rules, or a world-model planner (rules as fallback)."""
    duration_s: float = Field(default=60.0, gt=0.0)
    """Longest time after the fault before giving up."""
    tick_s: float = Field(default=1.0, gt=0.0)
    """Control period: one observation and decision per tick."""
    baseline_ticks: int = Field(default=3, ge=0)
    """Ticks observed before the fault."""
    warmup_timeout_s: float = Field(default=45.0, gt=0.0)
    """Longest wait for a healthy mesh before the fault."""
    hold_s: float = Field(default=5.0, ge=0.0)
    """The SLO must hold this long to count as mitigated."""
    slo_error_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    """SLO: the client's error rate at most this."""
    slo_p99_ms: float = Field(default=1000.0, gt=0.0)
    """SLO: the client's p99 latency at most this."""
    stop_when_recovered: bool = True
    """End the run once mitigated (else run the full duration)."""
    cooldown_s: float = Field(default=6.0, ge=0.0)
    """Guard cooldown per service (a restart needs a few scrapes to show)."""
    train_steps: int = Field(default=150, ge=1)
    """World-model training steps on simulated transitions (cem/mcts)."""
    mesh: LiveMeshConfig = LiveMeshConfig()
    """The live mesh."""


def live_components(registry: Registry | None = None) -> Registry:
    """The registry with the ``live`` state source and executor (LiveError when absent)."""
    reg = registry or default_registry()
    if "live" not in reg.names("state_source"):
        try:
            import aither_live  # type: ignore[import-not-found]
        except ImportError:
            raise LiveError(
                "the aither-live plugin is not installed: add its entry point "
                '(aither-live = "aither_live:plugin") and reinstall (pip install -e .)'
            ) from None
        reg.register_plugin(aither_live.plugin)
    return reg


def train_sim_model(graph: ServiceGraph, *, steps: int, model_dir: Path, log: Log) -> Any:
    """A small world model trained on simulated transitions of ``graph`` (cached by name)."""
    from aither_wm.config import (
        EncoderConfig,
        PredictorConfig,
        ProjectorConfig,
        TrainConfig,
        WorldModelConfig,
    )
    from aither_wm.models import WorldModel
    from aither_wm.sim.scenarios import generate_transitions
    from aither_wm.train import TransitionDataset, fit, load_checkpoint, save_checkpoint

    path = model_dir / f"{graph.name}-s{steps}.pt"
    if path.exists():
        return load_checkpoint(path).model
    cfg = WorldModelConfig(
        encoder=EncoderConfig(d_model=32, num_layers=1, num_heads=2, embed_dim=64),
        projector=ProjectorConfig(hidden_dim=64, latent_dim=32),
        # GELU: the live figures in docs/live.md were measured with it
        predictor=PredictorConfig(hidden_dim=64, num_blocks=1, action_dim=16, activation="gelu"),
    )
    started = time.monotonic()
    trs = list(generate_transitions(graph, episodes=12, steps=40, seed=0))
    data = TransitionDataset.from_transitions(trs, {graph.name: graph})
    model = WorldModel(cfg)
    fit(model, data, TrainConfig(steps=steps, batch_size=32, seed=0, num_slices=64))
    model_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, path, version=1, meta={"graph": graph.name, "source": "sim"})
    log(
        f"trained a world model on {len(trs)} simulated transitions in {time.monotonic() - started:.1f} s"
    )
    return model


class _SymptomProbe(threading.Thread):
    """Polls the fault's symptom query until it first shows (observation delay)."""

    def __init__(self, client: PromClient, expr: str, target: str, started_s: float) -> None:
        super().__init__(daemon=True)
        self.client, self.expr, self.target, self.started_s = client, expr, target, started_s
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


class _Recorder:
    """The state source, remembering the last state it gave (for the report)."""

    def __init__(self, source: Any) -> None:
        self.source, self.last = source, None

    def observe(self) -> MeshState:
        self.last = self.source.observe()
        return self.last


def _client_slo(client: PromClient, window: str) -> tuple[float | None, float | None]:
    """(client error rate, client p99 ms); None where there was no traffic in the window."""
    rate = f"sum(rate(aither_client_requests_total[{window}]))"
    err = client.scalar(
        f'sum(rate(aither_client_requests_total{{outcome="error"}}[{window}])) / {rate}'
    )
    p99 = client.scalar(
        f"1000 * histogram_quantile(0.99, sum by (le) (rate(aither_client_latency_seconds_bucket[{window}])))"
    )
    return err, p99


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_heal(
    graph: ServiceGraph,
    config: HealConfig,
    *,
    run_dir: str | Path,
    model_dir: str | Path | None = None,
    log: Log = _stderr,
) -> dict[str, Any]:
    """One heal run (see the module docstring); returns the report (JSON-safe)."""
    if config.fault not in FAULTS:
        raise LiveError(f"unknown fault {config.fault!r}; expected one of {list(FAULTS)}")
    run_dir = Path(run_dir)
    target = config.target or default_target(graph, config.fault)
    if target not in graph.services:
        raise LiveError(f"fault target {target!r} is not a service of {graph.name!r}")
    reg = live_components()
    model = None
    if config.policy != "reactive":
        model = train_sim_model(
            graph, steps=config.train_steps,
            model_dir=Path(model_dir) if model_dir else run_dir / "models", log=log,
        )  # fmt: skip
    mcfg = config.mesh
    t_up = time.monotonic()
    with LiveMesh(graph, run_dir, mcfg) as mesh:
        log(f"live mesh up in {time.monotonic() - t_up:.1f} s; Prometheus at {mesh.prometheus_url}")
        window = f"{max(3, round(4 * mcfg.scrape_interval_s))}s"
        source = reg.create(
            "state_source", "live", graph, prometheus_url=mesh.prometheus_url, window=window
        )
        executor = reg.create("executor", "live", mesh)
        client = PromClient(mesh.prometheus_url)
        cooldown = max(1, math.ceil(config.cooldown_s / config.tick_s))
        guard = GuardConfig(
            dry_run=False, cooldown_steps=cooldown, window_steps=max(10, 6 * cooldown),
            max_actions_per_window=4, max_service_fraction=0.3,
        )  # fmt: skip
        rules = ReactivePolicy(ReactiveConfig(max_replicas=mcfg.max_workers))
        planners: dict[str, Any] = {}
        if model is not None:
            service = PlannerService(
                config.policy, model_config=model.config, graphs=[graph],
                max_replicas=mcfg.max_workers, planner_config=None,
            )  # fmt: skip
            service.load_weights(1, model.state_dict())
            planners[config.policy] = service
        ctl_cfg = ControllerConfig(
            guard=guard, max_replicas=mcfg.max_workers, deadline_ms=800.0,
            pick=f"prefer_{config.policy}" if planners else "lowest_cost",
            preference=(config.policy,) if planners else ("cem", "mcts"),
            min_weights_version=1 if planners else 0,
        )  # fmt: skip
        audit = AuditLog(run_dir / "audit.jsonl")
        controller = AutohealController(
            graph, LocalDispatcher(planners), executor, config=ctl_cfg, audit=audit, fallback=rules
        )
        recorder = _Recorder(source)
        loop = ControlLoop(recorder, controller, transitions_log=str(run_dir / "transitions.jsonl"))

        # warm up ----------------------------------------------------------------------------
        t0 = time.monotonic()
        why = "no observation yet"
        while True:
            time.sleep(config.tick_s)
            try:
                st = source.observe()
                err, p99 = _client_slo(client, window)
                sick = [n for n, s in st.services.items() if s.health != "healthy"]
                if (
                    not sick
                    and not source.stale
                    and err is not None
                    and err <= config.slo_error_rate
                ):
                    break
                why = f"unhealthy {sick[:4]}, stale {list(source.stale)[:4]}, client errors {err}"
            except PrometheusError as e:
                why = str(e)
            if time.monotonic() - t0 > config.warmup_timeout_s:
                raise LiveError(f"live mesh not healthy after {config.warmup_timeout_s:g} s: {why}")
        log(f"warm after {time.monotonic() - t0:.1f} s")
        for _ in range(config.baseline_ticks):
            loop.tick()
            time.sleep(config.tick_s)

        # fault --------------------------------------------------------------------------------
        fault = inject(mesh, config.fault, target)
        probe = _SymptomProbe(
            client, symptom_query(config.fault, target, source.queries), target, fault.at_s
        )
        probe.start()
        log(f"injected {config.fault} into {target}")
        timeline: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        detect_s = mitigated_s = None
        good_since: float | None = None
        violation_s = 0.0
        last_t = fault.at_s
        state: MeshState | None = None
        while (now := time.time()) - fault.at_s < config.duration_s:
            try:
                decision = loop.tick()
                state = recorder.last
                stale = list(source.stale)
            except PrometheusError as e:
                decision, stale = None, [f"prometheus: {e}"]
            err, p99 = _client_slo(client, window)
            now = time.time()
            slo_ok = (
                err is not None
                and err <= config.slo_error_rate
                and (p99 or 0.0) <= config.slo_p99_ms
            )
            if not slo_ok:
                violation_s += now - last_t
            last_t = now
            if decision is not None and decision.action.type is not ActionType.noop:
                if detect_s is None:
                    detect_s = now - fault.at_s
                actions.append({
                    "t_s": round(now - fault.at_s, 2), "action": str(decision.action),
                    "chosen": decision.chosen, "allowed": decision.verdict.allowed,
                    "executed": decision.executed, "error": decision.error,
                })  # fmt: skip
            tgt = state.services[target] if state is not None else None
            symptom_gone = probe.seen_s is not None and target not in client.by_label(probe.expr)
            fixed = slo_ok and tgt is not None and tgt.health == "healthy" and symptom_gone
            good_since = (good_since or now) if fixed else None
            if (
                fixed
                and good_since is not None
                and now - good_since >= config.hold_s
                and mitigated_s is None
            ):
                mitigated_s = good_since - fault.at_s
            timeline.append({
                "t_s": round(now - fault.at_s, 2), "client_error_rate": err, "client_p99_ms": p99,
                "slo_ok": slo_ok, "target_health": tgt.health if tgt else None,
                "target_replicas": tgt.replicas if tgt else None, "stale": stale,
            })  # fmt: skip
            if mitigated_s is not None and config.stop_when_recovered:
                break
            time.sleep(max(0.0, config.tick_s - (time.time() - now)))
        probe.stop.set()
        audit.close()
    stray = mesh.stray_pids()
    obs_delay = None if probe.seen_s is None else probe.seen_s - fault.at_s
    report = {
        "graph": graph.name, "fault": config.fault, "target": target, "policy": config.policy,
        "recovered": mitigated_s is not None,
        "time_to_detect_s": _r(detect_s), "time_to_mitigate_s": _r(mitigated_s),
        "slo_violation_s": _r(violation_s), "observation_delay_s": _r(obs_delay),
        "actions": actions, "executed_actions": sum(a["executed"] for a in actions),
        "scrape_interval_s": mcfg.scrape_interval_s, "tick_s": config.tick_s, "rate_window": window,
        "ticks": loop.ticks, "stray_processes": stray,
        "audit_log": str(run_dir / "audit.jsonl"), "timeline": timeline,
    }  # fmt: skip
    (run_dir / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)
