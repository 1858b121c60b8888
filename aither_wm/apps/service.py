"""``aither-wm run --config FILE``: the long-running autoheal service.

The service starts the plugin's actors (trainer, CEM and MCTS planners) and a ``ControllerActor``
whose loop reads states from the configured state source, decides with both planners, passes the
action through the safety guard, executes it (only when ``dry_run`` is false), audits every
decision and logs every transition; transitions also stream to the trainer. The trainer retrains
every ``retrain_every_s`` (default 30 minutes, and as soon as it has ``min_transitions`` when it
has no trained model yet); planners hot-swap the new weights between two plans.

Safe by default: ``dry_run`` is true unless the file says otherwise, plans from an untrained
model are never used (the rule-based fallback decides until the first training run), and
components are looked up by registered name only (never imported from a path in the file).

The file is JSON or TOML (``.toml``; :class:`~aither_wm.runtime.plugin.ServiceConfig`); see
docs/runtime.md for an example.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import ray

from aither_wm.control.controller import ControllerConfig
from aither_wm.control.planners import graph_to_dict
from aither_wm.errors import ConfigError, one_line
from aither_wm.runtime.actors import ControllerActor, actor_name
from aither_wm.runtime.loop import LoopSpec
from aither_wm.runtime.plugin import AitherPlugin, ServiceConfig, load_service_config

__all__ = ["AutohealService", "ServiceConfig", "load_service_config", "run_service"]

#: Consecutive failed ticks (controller actor restarting, its node lost) before the service
#: gives up; a single failure is logged and the next tick tried.
MAX_FAILED_TICKS = 20

log = logging.getLogger(__name__)


def run_service(
    config_path: str | Path | None = None,
    *,
    config: ServiceConfig | None = None,
    stop: threading.Event | None = None,
) -> dict[str, Any]:
    """Run the service until ``max_ticks``, ``stop`` is set, SIGINT or SIGTERM; return a summary.

    Args:
        config_path: a JSON/TOML file (or pass ``config``).
        config: an already-built config.
        stop: an event another thread may set to stop the loop.
    """
    if config is None:
        if config_path is None:
            raise ConfigError("run_service needs a config file or a ServiceConfig")
        config = load_service_config(config_path)
    stop = stop or threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    try:
        service = AutohealService(config, stop)
        try:
            return service.run()
        finally:
            service.close()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


class AutohealService:
    """The service's actors and its loop: tick the controller actor, retrain on schedule.

    Args:
        config: the service's settings.
        stop: set it to end :meth:`run` after the current tick.
    """

    def __init__(self, config: ServiceConfig, stop: threading.Event) -> None:
        self.config, self.stop = config, stop
        self.controller = _controller_config(config)
        self.plugin = AitherPlugin(config.plugin)
        self.ctl: Any = None
        self.summary: dict[str, Any] = {
            "ticks": 0,
            "executed": 0,
            "fallbacks": 0,
            "trainings": [],
            "dry_run": config.dry_run,
            "audit_log": config.audit_log,
            "transitions_log": config.transitions_log,
        }
        self._train_ref: Any = None
        self._last_train = time.monotonic()
        self._trained_once = False
        self._retry_at = 0.0
        self._failed_ticks = 0
        self._need = config.min_transitions

    def start(self) -> None:
        """Start the plugin's actors and the controller actor."""
        cfg, rt = self.config, self.config.plugin.runtime
        for p in (cfg.audit_log, cfg.transitions_log):
            if p:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
        self.plugin.start()
        spec = LoopSpec(
            namespace=rt.namespace,
            graph=graph_to_dict(self.plugin.graph),
            planners=tuple(self.plugin.planners),
            trainer=actor_name("trainer"),
            controller=self.controller,
            state_source=cfg.state_source,
            executor=cfg.executor,
            audit_log=cfg.audit_log,
            transitions_log=cfg.transitions_log,
            ingest_batch=cfg.ingest_batch,
            plugin_allow=cfg.plugin_allow,
        )
        self.ctl = ControllerActor.options(  # type: ignore[attr-defined]
            name=actor_name("controller"),
            namespace=rt.namespace,
            get_if_exists=True,
            num_cpus=rt.controller_num_cpus,
            max_restarts=rt.max_restarts,
            max_task_retries=0,
        ).remote(spec.model_dump(mode="json"))
        self.plugin.add_actor("controller", self.ctl)
        self._need = max(cfg.min_transitions, self.plugin.trainer_settings().min_transitions)
        self.summary["failed_ticks"] = 0

    def run(self) -> dict[str, Any]:
        """Start, then tick every ``interval_s`` until stopped; returns the summary."""
        cfg = self.config
        self.start()
        while not self.stop.is_set():
            t0 = time.monotonic()
            if not self.tick():
                self.stop.wait(max(1.0, cfg.interval_s))
                continue
            self.collect_training()
            self.start_training_if_due()
            if cfg.max_ticks is not None and self.summary["ticks"] >= cfg.max_ticks:
                break
            self.stop.wait(max(0.0, cfg.interval_s - (time.monotonic() - t0)))
        # An unfinished training run is abandoned: its checkpoint write is atomic, so the file on
        # disk stays the previous good one.
        self.summary["training_in_progress_at_exit"] = self._train_ref is not None
        self.summary["health"] = self.plugin.health()
        return self.summary

    def tick(self) -> bool:
        """One decision of the controller actor; False when it failed (logged; raised after
        :data:`MAX_FAILED_TICKS` in a row)."""
        tick_timeout_s = max(30.0, 5 * self.controller.deadline_ms / 1e3)
        try:
            record = ray.get(self.ctl.tick.remote(), timeout=tick_timeout_s)
        except ray.exceptions.RayError as e:  # restarting actor, lost node, a refused state
            self._failed_ticks += 1
            self.summary["failed_ticks"] += 1
            log.warning(
                "tick failed (%d in a row): %s", self._failed_ticks, one_line(e, with_type=True)
            )
            if self._failed_ticks >= MAX_FAILED_TICKS:
                raise
            return False
        self._failed_ticks = 0
        self.summary["ticks"] += 1
        if not record.get("gated"):  # gated: an anomaly gate kept the planners asleep
            self.summary["executed"] += int(record["executed"])
            self.summary["fallbacks"] += int(record["chosen"] == "fallback")
            log.info(
                "step %s: %s %s (%s) guard=%s executed=%s",
                record["step"],
                record["chosen"],
                record["action"],
                record["reason"],
                record["guard"]["allowed"],
                record["executed"],
            )
        return True

    def collect_training(self) -> None:
        """Record a finished training run (a failed one keeps the previous weights)."""
        if self._train_ref is None or not ray.wait([self._train_ref], timeout=0)[0]:
            return
        try:
            result = ray.get(self._train_ref, timeout=0)
            result.pop("history", None)
            self.summary["trainings"].append(result)
            self._trained_once = True
            log.info(
                "trained: version %s on %s transitions", result["version"], result["transitions"]
            )
        except Exception as e:  # retry later
            self.summary["trainings"].append({"error": one_line(e, with_type=True)})
            log.warning("training failed: %s", one_line(e, with_type=True))
            self._retry_at = time.monotonic() + min(self.config.retrain_every_s, 60.0)
        self._train_ref = None

    def start_training_if_due(self) -> None:
        """Start a training run when one is due (or none has succeeded yet) and the trainer
        holds enough transitions."""
        cfg = self.config
        due = time.monotonic() - self._last_train >= cfg.retrain_every_s
        if self._train_ref is not None or not (due or not self._trained_once):
            return
        if time.monotonic() < self._retry_at:
            return
        try:
            health = ray.get(self.plugin.trainer.health.remote(), timeout=30)
            self._trained_once = self._trained_once or health["version"] > 0
            if health["transitions"] >= self._need and (due or not self._trained_once):
                ray.get(self.ctl.flush.remote(), timeout=30)
                self._train_ref = self.plugin.trainer.train.remote(cfg.train_steps)
                self._last_train = time.monotonic()
        except ray.exceptions.RayError as e:  # the trainer (or controller) restarting
            log.warning("training not started: %s", one_line(e, with_type=True))
            self._retry_at = time.monotonic() + min(cfg.retrain_every_s, 10.0)

    def close(self) -> None:
        """Stop every actor (and a Ray this process started)."""
        self.plugin.stop()


def _controller_config(cfg: ServiceConfig) -> ControllerConfig:
    """The controller section with the top-level switches applied: ``dry_run`` decides the
    guard's, and plans of an untrained model are refused unless ``act_on_untrained``."""
    guard = cfg.controller.guard.model_copy(update={"dry_run": cfg.dry_run})
    min_v = max(cfg.controller.min_weights_version, 0 if cfg.act_on_untrained else 1)
    return cfg.controller.model_copy(update={"guard": guard, "min_weights_version": min_v})


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM set ``stop`` (a clean shutdown); returns the handlers to restore."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not settable here
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous
