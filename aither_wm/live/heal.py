"""``aither-wm live heal``: bring a live mesh up, break it, let the autoheal controller fix it.

One run (:class:`LiveHeal`, or :func:`run_heal`):

1. start the :class:`~aither_wm.live.mesh.LiveMesh` and get the ``live`` state source and
   executor from the plugin registry (the path a production host takes);
2. warm up: observe until every service is healthy and the client SLO holds;
3. a few baseline ticks, then inject the fault; a probe polls Prometheus every 0.2 s for the
   fault's symptom (the observation delay: fault -> first sample that shows it);
4. tick the :class:`~aither_wm.runtime.loop.ControlLoop` every ``tick_s``: observe through
   Prometheus, decide (planner, or the reactive rules), guard, execute on real processes, audit;
5. stop when the SLO (client error rate and p99) and the target's health have held for
   ``hold_s`` (:mod:`aither_wm.live.score`), or at ``duration_s``; tear everything down.

The world-model policies (``cem``, ``mcts``) plan with a small world model trained on the
simulator of the same graph (same feature semantics), cached in ``model_dir``.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aither_wm.apps.presets import LIVE_MODEL
from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import AutohealController, ControllerConfig, PickPolicy
from aither_wm.control.guard import GuardConfig
from aither_wm.control.planners import LocalDispatcher, PlannerService
from aither_wm.control.policies import ReactiveConfig, ReactivePolicy
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import ActionType, MeshState
from aither_wm.live.config import HealConfig
from aither_wm.live.errors import LiveError, PrometheusError
from aither_wm.live.faults import FAULTS, InjectedFault, default_target, inject, symptom_query
from aither_wm.live.mesh import LiveMesh
from aither_wm.live.probes import SymptomProbe, client_slo
from aither_wm.live.prom import PromClient
from aither_wm.live.score import HealSample, HealScore, hold_ticks, score_heal
from aither_wm.registry import Registry, default_registry
from aither_wm.runtime.loop import ControlLoop
from aither_wm.wait import wait_until

__all__ = ["HealConfig", "LiveHeal", "live_components", "run_heal", "train_sim_model"]

Log = Callable[[str], None]

#: The controller's pick when one world-model planner decides (the rules stay its fallback).
_PREFER: dict[str, PickPolicy] = {"cem": "prefer_cem", "mcts": "prefer_mcts"}


def live_components(registry: Registry | None = None) -> Registry:
    """The registry holding the ``live`` state source and executor (LiveError when absent).

    They come from the ``aither-live`` plugin, found like any plugin through its entry point.
    """
    reg = registry or default_registry()
    if "live" not in reg.names("state_source") or "live" not in reg.names("executor"):
        raise LiveError(
            "the aither-live plugin is not installed: add its entry point "
            '(aither-live = "aither_live:plugin") and reinstall (pip install -e .)'
        )
    return reg


def train_sim_model(graph: ServiceGraph, *, steps: int, model_dir: Path, log: Log) -> Any:
    """A small world model (:data:`~aither_wm.apps.presets.LIVE_MODEL`) trained on simulated
    transitions of ``graph``, cached in ``model_dir`` by graph name and steps."""
    from aither_wm.config import TrainConfig
    from aither_wm.models import WorldModel
    from aither_wm.sim.scenarios import generate_transitions
    from aither_wm.train import TransitionDataset, fit, load_checkpoint, save_checkpoint

    path = model_dir / f"{graph.name}-s{steps}.pt"
    if path.exists():
        return load_checkpoint(path).model
    started = time.monotonic()
    trs = list(generate_transitions(graph, episodes=12, steps=40, seed=0))
    data = TransitionDataset.from_transitions(trs, {graph.name: graph})
    model = WorldModel(LIVE_MODEL)
    fit(model, data, TrainConfig(steps=steps, batch_size=32, seed=0, num_slices=64))
    model_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, path, version=1, meta={"graph": graph.name, "source": "sim"})
    log(
        f"trained a world model on {len(trs)} simulated transitions in {time.monotonic() - started:.1f} s"
    )
    return model


class _Recorder:
    """The state source, remembering the last state it gave (for the report)."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.last: MeshState | None = None

    def observe(self) -> MeshState:
        state: MeshState = self.source.observe()
        self.last = state
        return state


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
    return LiveHeal(graph, config, run_dir=run_dir, model_dir=model_dir, log=log).run()


class LiveHeal:
    """One heal run on a live mesh: :meth:`open`, :meth:`warm_up`, :meth:`inject`, :meth:`tick`
    until done, :meth:`close` (:meth:`run` does all of it and writes the report).

    Args:
        graph: the mesh's graph.
        config: the run's settings.
        run_dir: the mesh's folder (state, logs, audit, transitions, report).
        model_dir: where the world model of ``cem``/``mcts`` is cached (default run_dir/models).
        log: progress lines.
        registry: where the ``live`` components come from (default: the process registry).

    Raises:
        LiveError: an unknown fault, a target outside the graph, the live plugin missing.
    """

    def __init__(
        self,
        graph: ServiceGraph,
        config: HealConfig,
        *,
        run_dir: str | Path,
        model_dir: str | Path | None = None,
        log: Log = _stderr,
        registry: Registry | None = None,
    ) -> None:
        if config.fault not in FAULTS:
            raise LiveError(f"unknown fault {config.fault!r}; expected one of {list(FAULTS)}")
        self.graph, self.config, self.log = graph, config, log
        self.run_dir = Path(run_dir)
        self.model_dir = Path(model_dir) if model_dir else self.run_dir / "models"
        self.target = config.target or default_target(graph, config.fault)
        if self.target not in graph.services:
            raise LiveError(f"fault target {self.target!r} is not a service of {graph.name!r}")
        self.registry = live_components(registry)
        mcfg = config.mesh
        self.window = f"{max(3, round(4 * mcfg.scrape_interval_s))}s"
        self.hold_ticks = hold_ticks(config.hold_s, config.tick_s)
        self.samples: list[HealSample] = []
        self.actions: list[dict[str, Any]] = []
        self.fault: InjectedFault | None = None
        self._stack = contextlib.ExitStack()
        self.mesh: LiveMesh | None = None
        self.probe: SymptomProbe | None = None
        self._state: MeshState | None = None

    # lifecycle ---------------------------------------------------------------------------------

    def open(self, model: Any = None) -> None:
        """Start the mesh and wire source, executor, controller and loop (``model``: the world
        model of a planner policy, None for the reactive rules)."""
        mcfg = self.config.mesh
        t_up = time.monotonic()
        self.mesh = self._stack.enter_context(LiveMesh(self.graph, self.run_dir, mcfg))
        self.log(
            f"live mesh up in {time.monotonic() - t_up:.1f} s; Prometheus at {self.mesh.prometheus_url}"
        )
        self.source = self.registry.create(
            "state_source",
            "live",
            self.graph,
            prometheus_url=self.mesh.prometheus_url,
            window=self.window,
        )
        executor = self.registry.create("executor", "live", self.mesh)
        self.client = PromClient(self.mesh.prometheus_url)
        audit = self._stack.enter_context(AuditLog(self.run_dir / "audit.jsonl"))
        planners = self._planners(model)
        controller = AutohealController(
            self.graph,
            LocalDispatcher(planners),
            executor,
            config=self._controller_config(bool(planners)),
            audit=audit,
            fallback=ReactivePolicy(ReactiveConfig(max_replicas=mcfg.max_workers)),
        )
        self.recorder = _Recorder(self.source)
        self.loop = ControlLoop(
            self.recorder, controller, transitions_log=str(self.run_dir / "transitions.jsonl")
        )
        self._stack.callback(self.loop.close)

    def _planners(self, model: Any) -> dict[str, Any]:
        if model is None:
            return {}
        service = PlannerService(
            self.config.policy,
            model_config=model.config,
            graphs=[self.graph],
            max_replicas=self.config.mesh.max_workers,
            planner_config=None,
        )
        service.load_weights(1, model.state_dict())
        return {self.config.policy: service}

    def _controller_config(self, has_planner: bool) -> ControllerConfig:
        cfg, policy = self.config, self.config.policy
        cooldown = max(1, math.ceil(cfg.cooldown_s / cfg.tick_s))
        guard = GuardConfig(
            dry_run=False,
            cooldown_steps=cooldown,
            window_steps=max(10, 6 * cooldown),
            max_actions_per_window=4,
            max_service_fraction=0.3,
        )
        return ControllerConfig(
            guard=guard,
            max_replicas=cfg.mesh.max_workers,
            deadline_ms=800.0,
            pick=_PREFER[policy] if has_planner else "lowest_cost",
            preference=(policy,) if has_planner else ("cem", "mcts"),
            min_weights_version=1 if has_planner else 0,
        )

    def warm_up(self) -> None:
        """Observe every ``tick_s`` until all services are healthy, fresh, and the client's error
        rate is under the SLO; LiveError after ``warmup_timeout_s``."""
        cfg, why = self.config, ["no observation yet"]
        t0 = time.monotonic()

        def warm() -> bool:
            try:
                st = self.source.observe()
                err, _ = client_slo(self.client, self.window)
            except PrometheusError as e:
                why[0] = str(e)
                return False
            sick = [n for n, s in st.services.items() if s.health != "healthy"]
            if not sick and not self.source.stale and err is not None and err <= cfg.slo_error_rate:
                return True
            why[0] = (
                f"unhealthy {sick[:4]}, stale {list(self.source.stale)[:4]}, client errors {err}"
            )
            return False

        time.sleep(cfg.tick_s)
        timeout_s = cfg.warmup_timeout_s - (time.monotonic() - t0)
        if not wait_until(warm, timeout_s=timeout_s, interval_s=cfg.tick_s):
            raise LiveError(f"live mesh not healthy after {cfg.warmup_timeout_s:g} s: {why[0]}")
        self.log(f"warm after {time.monotonic() - t0:.1f} s")
        for _ in range(cfg.baseline_ticks):
            self.loop.tick()
            time.sleep(cfg.tick_s)

    def inject(self) -> InjectedFault:
        """Inject the fault and start the symptom probe."""
        assert self.mesh is not None, "open() first"
        cfg = self.config
        self.fault = inject(self.mesh, cfg.fault, self.target)
        expr = symptom_query(cfg.fault, self.target, self.source.queries)
        self.probe = SymptomProbe(self.client, expr, self.target)
        self.probe.start()
        self._stack.callback(self.probe.close)
        self.log(f"injected {cfg.fault} into {self.target}")
        return self.fault

    def tick(self) -> HealSample:
        """One control step after the fault, sampled for the score."""
        assert self.fault is not None and self.probe is not None, "inject() first"
        cfg = self.config
        try:
            decision = self.loop.tick()
            self._state, stale = self.recorder.last, list(self.source.stale)
        except PrometheusError as e:  # the target's last fresh state stands
            decision, stale = None, [f"prometheus: {e}"]
        state = self._state
        err, p99 = client_slo(self.client, self.window)
        now = time.time()
        slo_ok = err is not None and err <= cfg.slo_error_rate and (p99 or 0.0) <= cfg.slo_p99_ms
        acted = decision is not None and decision.action.type is not ActionType.noop
        if acted:
            assert decision is not None
            self.actions.append(
                {
                    "t_s": round(now - self.fault.at_s, 2),
                    "action": str(decision.action),
                    "chosen": decision.chosen,
                    "allowed": decision.verdict.allowed,
                    "executed": decision.executed,
                    "error": decision.error,
                }
            )
        tgt = state.services[self.target] if state is not None else None
        probe = self.probe
        symptom_gone = probe.seen_s is not None and self.target not in self.client.by_label(
            probe.expr
        )
        sample = HealSample(
            t_s=now - self.fault.at_s,
            client_error_rate=err,
            client_p99_ms=p99,
            slo_ok=slo_ok,
            fixed=slo_ok and tgt is not None and tgt.health == "healthy" and symptom_gone,
            acted=acted,
            target_health=tgt.health if tgt else None,
            target_replicas=tgt.replicas if tgt else None,
            stale=stale,
        )
        self.samples.append(sample)
        return sample

    def score(self) -> HealScore:
        """The scores of the samples so far."""
        return score_heal(self.samples, hold_ticks=self.hold_ticks)

    def close(self) -> None:
        """Stop the probe, close the logs and bring the mesh down (idempotent)."""
        self._stack.close()

    # the whole run -----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train (cem/mcts), open, warm up, inject, tick until mitigated or ``duration_s``,
        close; write ``report.json`` in the run folder and return the report."""
        cfg = self.config
        model = None
        if cfg.policy != "reactive":
            model = train_sim_model(
                self.graph, steps=cfg.train_steps, model_dir=self.model_dir, log=self.log
            )
        try:
            self.open(model)
            self.warm_up()
            fault = self.inject()
            while time.time() - fault.at_s < cfg.duration_s:
                sampled_at = fault.at_s + self.tick().t_s
                if cfg.stop_when_recovered and self.score().recovered:
                    break
                time.sleep(max(0.0, cfg.tick_s - (time.time() - sampled_at)))
        finally:
            self.close()
        return self._report()

    def _report(self) -> dict[str, Any]:
        assert self.mesh is not None and self.fault is not None and self.probe is not None
        cfg, score, probe = self.config, self.score(), self.probe
        obs_delay = None if probe.seen_s is None else probe.seen_s - self.fault.at_s
        report = {
            "graph": self.graph.name,
            "fault": cfg.fault,
            "target": self.target,
            "policy": cfg.policy,
            "recovered": score.recovered,
            "time_to_detect_s": _r(score.time_to_detect_s),
            "time_to_mitigate_s": _r(score.time_to_mitigate_s),
            "slo_violation_s": _r(score.slo_violation_s),
            "observation_delay_s": _r(obs_delay),
            "actions": self.actions,
            "executed_actions": sum(a["executed"] for a in self.actions),
            "scrape_interval_s": cfg.mesh.scrape_interval_s,
            "tick_s": cfg.tick_s,
            "rate_window": self.window,
            "ticks": self.loop.ticks,
            "stray_processes": self.mesh.stray_pids(),
            "audit_log": str(self.run_dir / "audit.jsonl"),
            "timeline": [s.timeline_row() for s in self.samples],
        }
        (self.run_dir / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
        return report


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 2)
