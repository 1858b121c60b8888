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

The file is JSON or TOML (``.toml``); see docs/runtime.md for an example.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

import ray
from pydantic import Field, ValidationError

from aither_wm.config import FrozenConfig
from aither_wm.control.controller import ControllerConfig
from aither_wm.control.planners import graph_to_dict
from aither_wm.errors import ConfigError
from aither_wm.runtime.actors import ControllerActor, _one_line, actor_name
from aither_wm.runtime.loop import ComponentRef, LoopSpec
from aither_wm.runtime.plugin import AitherPlugin, PluginConfig

__all__ = ["ServiceConfig", "load_service_config", "run_service"]

#: Consecutive failed ticks (controller actor restarting, its node lost) before the service
#: gives up; a single failure is logged and the next tick tried.
MAX_FAILED_TICKS = 20

log = logging.getLogger(__name__)


class ServiceConfig(FrozenConfig):
    """The ``aither-wm run`` configuration file."""

    plugin: PluginConfig = PluginConfig()
    """Graph, Ray, model, training and planner actors."""
    state_source: ComponentRef = ComponentRef(name="sim")
    """Where states come from (a registered ``state_source``; ``sim`` is the aither-sim plugin)."""
    executor: ComponentRef | None = None
    """How actions are carried out (a registered ``executor``); None: the source's own."""
    controller: ControllerConfig = ControllerConfig()
    """Controller and guard settings (``guard.dry_run`` is overridden by ``dry_run``)."""
    dry_run: bool = True
    """Decide and audit, execute nothing. Set false to let the controller act."""
    act_on_untrained: bool = False
    """Use plans of an untrained model (version 0). Off: the rule-based fallback decides until the
    first training run has published weights."""
    interval_s: float = Field(default=15.0, ge=0.0)
    """Seconds between two decisions (the metrics scrape interval)."""
    retrain_every_s: float = Field(default=1800.0, gt=0.0)
    """Seconds between two training runs."""
    train_steps: int | None = Field(default=None, ge=1)
    """Steps of each training run (None: ``plugin.train.steps``)."""
    min_transitions: int = Field(default=200, ge=1)
    """Transitions the trainer needs before its first run."""
    audit_log: str = "runs/audit.jsonl"
    """Audit log (JSONL, appended)."""
    transitions_log: str | None = "runs/transitions.jsonl"
    """Transitions log written by the control loop (JSONL, appended)."""
    ingest_batch: int = Field(default=32, ge=1)
    """Transitions per batch streamed to the trainer."""
    max_ticks: int | None = Field(default=None, ge=1)
    """Stop after this many decisions (None: run until interrupted)."""
    plugin_allow: tuple[str, ...] | None = None
    """Only these entry-point plugins may be loaded (None: every installed one)."""


def load_service_config(path: str | Path) -> ServiceConfig:
    """Read and validate a JSON or TOML service config.

    Raises:
        ConfigError: unreadable file, bad syntax, or an invalid/unknown key (named).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config ({e})") from None
    try:
        if p.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise ConfigError(
            f"{p}: not valid {'TOML' if p.suffix.lower() == '.toml' else 'JSON'} ({e})"
        ) from None
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise ConfigError(f"{p}: {loc}: {err['msg']}") from None


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
    cfg = config
    stop = stop or threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    guard = cfg.controller.guard.model_copy(update={"dry_run": cfg.dry_run})
    min_v = max(cfg.controller.min_weights_version, 0 if cfg.act_on_untrained else 1)
    controller = cfg.controller.model_copy(update={"guard": guard, "min_weights_version": min_v})
    for p in (cfg.audit_log, cfg.transitions_log):
        if p:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
    plugin = AitherPlugin(cfg.plugin)
    summary: dict[str, Any] = {
        "ticks": 0,
        "executed": 0,
        "fallbacks": 0,
        "trainings": [],
        "dry_run": cfg.dry_run,
        "audit_log": cfg.audit_log,
        "transitions_log": cfg.transitions_log,
    }
    try:
        plugin.start()
        rt = cfg.plugin.runtime
        spec = LoopSpec(
            namespace=rt.namespace,
            graph=graph_to_dict(plugin.graph),
            planners=tuple(plugin.planners),
            trainer=actor_name("trainer"),
            controller=controller,
            state_source=cfg.state_source,
            executor=cfg.executor,
            audit_log=cfg.audit_log,
            transitions_log=cfg.transitions_log,
            ingest_batch=cfg.ingest_batch,
            plugin_allow=cfg.plugin_allow,
        )
        ctl = ControllerActor.options(  # type: ignore[attr-defined]
            name=actor_name("controller"),
            namespace=rt.namespace,
            get_if_exists=True,
            num_cpus=rt.controller_num_cpus,
            max_restarts=rt.max_restarts,
            max_task_retries=0,
        ).remote(spec.model_dump(mode="json"))
        plugin.add_actor("controller", ctl)
        tick_timeout_s = max(30.0, 5 * controller.deadline_ms / 1e3)
        train_ref: Any = None
        last_train = time.monotonic()
        trained_once = False
        retry_at = 0.0
        need = max(cfg.min_transitions, plugin.trainer_settings().min_transitions)
        failed_ticks = 0
        summary["failed_ticks"] = 0
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                record = ray.get(ctl.tick.remote(), timeout=tick_timeout_s)
                failed_ticks = 0
            except ray.exceptions.RayError as e:  # restarting actor, lost node, a refused state
                failed_ticks += 1
                summary["failed_ticks"] += 1
                log.warning("tick failed (%d in a row): %s", failed_ticks, _one_line(e))
                if failed_ticks >= MAX_FAILED_TICKS:
                    raise
                stop.wait(max(1.0, cfg.interval_s))
                continue
            summary["ticks"] += 1
            if not record.get("gated"):  # gated: an anomaly gate kept the planners asleep
                summary["executed"] += int(record["executed"])
                summary["fallbacks"] += int(record["chosen"] == "fallback")
                log.info(
                    "step %s: %s %s (%s) guard=%s executed=%s",
                    record["step"],
                    record["chosen"],
                    record["action"],
                    record["reason"],
                    record["guard"]["allowed"],
                    record["executed"],
                )
            if train_ref is not None and ray.wait([train_ref], timeout=0)[0]:
                try:
                    result = ray.get(train_ref, timeout=0)
                    result.pop("history", None)
                    summary["trainings"].append(result)
                    trained_once = True
                    log.info(
                        "trained: version %s on %s transitions",
                        result["version"],
                        result["transitions"],
                    )
                except Exception as e:  # a failed run keeps the previous weights; retry later
                    summary["trainings"].append({"error": _one_line(e)})
                    log.warning("training failed: %s", _one_line(e))
                    retry_at = time.monotonic() + min(cfg.retrain_every_s, 60.0)
                train_ref = None
            due = time.monotonic() - last_train >= cfg.retrain_every_s
            if train_ref is None and (due or not trained_once) and time.monotonic() >= retry_at:
                try:
                    health = ray.get(plugin.trainer.health.remote(), timeout=30)
                    trained_once = trained_once or health["version"] > 0
                    if health["transitions"] >= need and (due or not trained_once):
                        ray.get(ctl.flush.remote(), timeout=30)
                        train_ref = plugin.trainer.train.remote(cfg.train_steps)
                        last_train = time.monotonic()
                except ray.exceptions.RayError as e:  # the trainer (or controller) restarting
                    log.warning("training not started: %s", _one_line(e))
                    retry_at = time.monotonic() + min(cfg.retrain_every_s, 10.0)
            if cfg.max_ticks is not None and summary["ticks"] >= cfg.max_ticks:
                break
            stop.wait(max(0.0, cfg.interval_s - (time.monotonic() - t0)))
        # An unfinished training run is abandoned: its checkpoint write is atomic, so the file on
        # disk stays the previous good one.
        summary["training_in_progress_at_exit"] = train_ref is not None
        summary["health"] = plugin.health()
    finally:
        plugin.stop()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
    return summary


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    """SIGINT/SIGTERM set ``stop`` (a clean shutdown); returns the handlers to restore."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not settable here
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    return previous
