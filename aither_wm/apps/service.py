"""``aither-wm run --config FILE``: the long-running autoheal service.

The service checks the whole configuration first (:func:`aither_wm.runtime.validate_service_config`:
every name, path and number; a mistake is one ConfigError line before Ray starts), then starts
the plugin's actors (trainer, CEM and MCTS planners, each CPU share derived from what Ray has) and
a ``ControllerActor`` whose loop reads states from the configured state source, decides with both
planners, passes the action through the safety guard, executes it (only when ``dry_run`` is
false), audits every decision and logs every transition; transitions also stream to the trainer.
The trainer retrains every ``retrain_every_s`` (default 30 minutes, and as soon as it has
``min_transitions`` when it has no trained model yet); planners hot-swap the new weights between
two plans.

What it prints (through ``say``, stderr on the command line): a banner (graph, planners and
their CPU shares, Ray, source, dry-run, logs, when the first training can start), one line per
``report_every`` decisions, a line per training run, and a summary on exit. A service that
cannot make progress stops with the reason instead of retrying forever: a controller actor that
cannot start, or the same error from the loop on :data:`MAX_SAME_ERRORS` ticks in a row.

Safe by default: ``dry_run`` is true unless the file says otherwise, plans from an untrained
model are never used (the rule-based fallback decides until the first training run), and
components are looked up by registered name only (never imported from a path in the file).

The file is JSON or TOML (``.toml``; :class:`~aither_wm.runtime.settings.ServiceConfig`); see
docs/runtime.md for an example.
"""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from aither_wm.control.controller import ControllerConfig
from aither_wm.control.planners import graph_to_dict
from aither_wm.errors import AitherError, ConfigError, one_line
from aither_wm.runtime.actors import ControllerActor, actor_name
from aither_wm.runtime.loop import LoopSpec
from aither_wm.runtime.plugin import AitherPlugin, ServiceConfig, load_service_config
from aither_wm.runtime.validate import validate_service_config

__all__ = [
    "AutohealService",
    "Every",
    "ServiceConfig",
    "decision_line",
    "load_service_config",
    "run_service",
    "training_line",
]

#: Consecutive failed ticks (controller actor restarting, its node lost) before the service
#: gives up; a single failure is logged and the next tick tried.
MAX_FAILED_TICKS = 20
#: The same error raised by the loop itself (not an actor outage) on this many ticks in a row
#: means it cannot make progress: the service stops with that error.
MAX_SAME_ERRORS = 3

log = logging.getLogger(__name__)

#: Receives each decision's audit record (``on_decision``), e.g. a test waiting for an event.
DecisionHook = Callable[[dict[str, Any]], None]


class Every:
    """True at most once per ``interval_s`` (the first call included): a throttle for progress
    lines polled from actors, so a long training shows one line per interval, not per step.

    Args:
        interval_s: seconds between two True answers.
        clock: monotonic seconds (injected in tests).
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.clock = interval_s, clock
        self._last: float | None = None

    def __call__(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return False
        self._last = now
        return True


def training_line(progress: dict[str, Any]) -> str:
    """The trainer's ``progress()`` as one line: ``training: step 120/600, loss 0.0123``."""
    loss = progress.get("loss")
    text = f"training: step {progress.get('step', 0)}/{progress.get('total', 0)}"
    return text + (f", loss {loss:.4g}" if isinstance(loss, float) else "")


def run_service(
    config_path: str | Path | None = None,
    *,
    config: ServiceConfig | None = None,
    stop: threading.Event | None = None,
    on_decision: DecisionHook | None = None,
    say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the service until ``max_ticks``, ``stop`` is set, SIGINT or SIGTERM; return a summary.

    Args:
        config_path: a JSON/TOML file (or pass ``config``).
        config: an already-built config.
        stop: an event another thread (or ``on_decision``) may set to stop the loop.
        on_decision: called with every decision's record, in the driver, after it is counted.
        say: where the banner, decision lines and summary go (default: this module's logger).

    Raises:
        ConfigError: a bad name, path or number in the config (before Ray starts).
        AitherError: the service cannot make progress (the reason is the message).
    """
    if config is None:
        if config_path is None:
            raise ConfigError("run_service needs a config file or a ServiceConfig")
        config = load_service_config(config_path)
    validate_service_config(config)
    stop = stop or threading.Event()
    previous_handlers = _install_signal_handlers(stop)
    try:
        service = AutohealService(config, stop, on_decision=on_decision, say=say)
        try:
            return service.run()
        finally:
            service.close()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


def _plan_text(name: str, plan: dict[str, Any]) -> str:
    if plan["status"] == "ok" and "cost" in plan:
        return f"{name} {plan['cost']:.3g}"
    if "older than min_weights_version" in (plan.get("error") or ""):
        return f"{name} untrained"  # a valid answer from weights the service does not act on
    return f"{name} {plan['status']}"


def decision_line(record: dict[str, Any]) -> str:
    """One decision as one line: step, who decided what and why, the guard, each planner's
    predicted cost (or status), the latency."""
    action = record["action"]
    what = action["type"] + (f"({action['target']})" if action.get("target") else "")
    guard = record["guard"]
    verdict = "ok" if guard["allowed"] else "refused: " + "; ".join(guard["reasons"])[:60]
    plans = [_plan_text(n, p) for n, p in record["plans"].items()]
    reason = record["reason"]
    if record["chosen"] == "fallback" and plans and all(x.endswith(" untrained") for x in plans):
        reason = "runbook: no trained model yet"
    done = "executed" if record["executed"] else ("dry-run" if record["dry_run"] else "not run")
    return (
        f"step {record['step']}: {record['chosen']} -> {what} ({reason[:70]}); "
        f"guard {verdict}; {done} | {', '.join(plans)} | {record['latency_ms']:.0f} ms"
    )


class AutohealService:
    """The service's actors and its loop: tick the controller actor, retrain on schedule.

    Args:
        config: the service's settings (already validated).
        stop: set it to end :meth:`run` after the current tick.
        on_decision: called with every decision's record.
        say: where progress lines go (default: the logger at INFO).
    """

    def __init__(
        self,
        config: ServiceConfig,
        stop: threading.Event,
        *,
        on_decision: DecisionHook | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.config, self.stop = config, stop
        self.controller = _controller_config(config)
        self.plugin = AitherPlugin(config.plugin)
        self.on_decision = on_decision
        self.say: Callable[[str], None] = say or log.info
        self.ctl: Any = None
        self.summary: dict[str, Any] = {
            "ticks": 0,
            "executed": 0,
            "fallbacks": 0,
            "by_planner": {},
            "trainings": [],
            "dry_run": config.dry_run,
            "audit_log": config.audit_log,
            "transitions_log": config.transitions_log,
            "failed_ticks": 0,
        }
        self._train_ref: Any = None
        self._last_train = time.monotonic()
        self._trained_once = False
        self._retry_at = 0.0
        self._failed_ticks = 0
        self._last_error: tuple[str, int] = ("", 0)
        self._need = config.min_transitions
        self._started = time.monotonic()
        self._progress_due = Every(config.progress_every_s)

    def start(self) -> None:
        """Start the plugin's actors and the controller actor; wait until the controller runs.

        Raises:
            AitherError: the controller actor cannot start (its constructor's error, one line).
        """
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
        try:
            ray.get(self.ctl.health.remote(), timeout=rt.start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise AitherError(
                f"the controller actor did not start within {rt.start_timeout_s:g} s"
            ) from None
        except ray.exceptions.RayError as e:
            raise AitherError(f"the controller actor cannot start: {_cause(e)}") from None
        self._need = max(cfg.min_transitions, self.plugin.trainer_settings().min_transitions)
        self.say(self.banner())

    def banner(self) -> str:
        """What is running, on a few lines (printed once at start)."""
        cfg, g, info = self.config, self.plugin.graph, self.plugin.host.info
        res = self.plugin.resources
        ck = cfg.plugin.checkpoint
        if ck and Path(ck).is_file():
            model = f"checkpoint {ck}"
        else:
            model = f"untrained (no checkpoint at {ck}; `aither-wm train` writes one)"
        first = (
            f"first training after {self._need} transitions "
            f"(~{self._need * cfg.interval_s / 60:.0f} min at interval_s {cfg.interval_s:g})"
        )
        return "\n".join(
            [
                f"aither-wm run: {g.name} ({g.num_services} services), planners "
                f"{', '.join(f'{n} ({s.kind})' for n, s in cfg.plugin.planners.items())}, "
                f"{'DRY RUN (decides and audits, executes nothing)' if cfg.dry_run else 'ACTING'}",
                f"  ray {info.get('mode')}: {info.get('cpus', 0):g} CPUs; actors: "
                f"{res.describe() if res else '?'}",
                f"  state source {cfg.state_source.name}; a decision every {cfg.interval_s:g} s; "
                f"model {model}; {first}",
                f"  audit {cfg.audit_log}; transitions {cfg.transitions_log}; metrics "
                f"{info.get('metrics_url') or 'on the Ray nodes (ray_aither_*)'}",
            ]
        )

    def run(self) -> dict[str, Any]:
        """Start, then tick every ``interval_s`` until stopped; returns the summary."""
        cfg = self.config
        self._started = time.monotonic()
        self.start()
        while not self.stop.is_set():
            t0 = time.monotonic()
            if not self.tick():
                self.stop.wait(max(1.0, cfg.interval_s))
                continue
            self.collect_training()
            self.start_training_if_due()
            self.report_training()
            if cfg.max_ticks is not None and self.summary["ticks"] >= cfg.max_ticks:
                break
            self.stop.wait(max(0.0, cfg.interval_s - (time.monotonic() - t0)))
        # An unfinished training run is abandoned: its checkpoint write is atomic, so the file on
        # disk stays the previous good one.
        self.summary["training_in_progress_at_exit"] = self._train_ref is not None
        self.summary["health"] = self.plugin.health(timeout_s=30.0)
        self.summary["seconds"] = round(time.monotonic() - self._started, 3)
        self.say(self.summary_line())
        return self.summary

    def summary_line(self) -> str:
        s = self.summary
        trained = [t for t in s["trainings"] if t.get("published")]
        version = trained[-1]["version"] if trained else 0
        by = ", ".join(f"{k} {v}" for k, v in sorted(s["by_planner"].items())) or "none"
        return (
            f"aither-wm run: stopped after {s['ticks']} decisions in {s.get('seconds', 0):.0f} s "
            f"(by {by}; executed {s['executed']}; failed ticks {s['failed_ticks']}); "
            f"{len(s['trainings'])} training runs, model version {version}; "
            f"health {s.get('health', {}).get('status', '?')}"
        )

    def tick(self) -> bool:
        """One decision of the controller actor; False when it failed (logged; raised after
        :data:`MAX_FAILED_TICKS` in a row, or the same loop error :data:`MAX_SAME_ERRORS`
        times in a row)."""
        tick_timeout_s = max(30.0, 5 * self.controller.deadline_ms / 1e3)
        try:
            record = ray.get(self.ctl.tick.remote(), timeout=tick_timeout_s)
        except ray.exceptions.RayError as e:  # restarting actor, lost node, a refused state
            self._tick_failed(e)
            return False
        self._failed_ticks = 0
        self._last_error = ("", 0)
        self.summary["ticks"] += 1
        if not record.get("gated"):  # gated: an anomaly gate kept the planners asleep
            self.summary["executed"] += int(record["executed"])
            self.summary["fallbacks"] += int(record["chosen"] == "fallback")
            by = self.summary["by_planner"]
            by[record["chosen"]] = by.get(record["chosen"], 0) + 1
            every = self.config.report_every
            if every and (self.summary["ticks"] - 1) % every == 0:
                self.say(decision_line(record))
            if self.on_decision is not None:
                self.on_decision(record)
        return True

    def _tick_failed(self, e: ray.exceptions.RayError) -> None:
        self._failed_ticks += 1
        self.summary["failed_ticks"] += 1
        msg = one_line(e, with_type=True)
        if isinstance(e, ray.exceptions.RayActorError):  # an outage: the actor comes back
            if self._failed_ticks == 1:
                log.warning("tick failed, retrying: %s", msg)
            if self._failed_ticks >= MAX_FAILED_TICKS:
                raise AitherError(
                    f"service stopped: {self._failed_ticks} ticks failed in a row ({msg})"
                ) from None
            return
        same = self._last_error[1] + 1 if self._last_error[0] == msg else 1
        self._last_error = (msg, same)
        if same == 1:
            log.warning("tick failed: %s", msg)
        if same >= MAX_SAME_ERRORS:  # the loop itself fails the same way: no progress possible
            raise AitherError(
                f"service stopped: the same error on {same} ticks in a row: {_cause(e)}"
            ) from None

    def report_training(self) -> None:
        """While a training run is on, one progress line per ``progress_every_s`` (read from
        the trainer's ``control`` group; the trainer itself prints nothing)."""
        if self._train_ref is None or not self.config.progress_every_s or not self._progress_due():
            return
        with contextlib.suppress(ray.exceptions.RayError):  # a restarting trainer: next time
            p = ray.get(self.plugin.trainer.progress.remote(), timeout=5)
            if p.get("phase") == "training":
                self.say(training_line(p))

    def collect_training(self) -> None:
        """Record a finished training run (a failed one keeps the previous weights)."""
        if self._train_ref is None or not ray.wait([self._train_ref], timeout=0)[0]:
            return
        try:
            result = ray.get(self._train_ref, timeout=0)
            result.pop("history", None)
            self.summary["trainings"].append(result)
            self._trained_once = True
            verdict = "published" if result.get("published") else "kept the previous model"
            self.say(
                f"trained: version {result['version']} on {result['transitions']} transitions "
                f"in {result.get('seconds', 0):.1f} s ({verdict}: "
                f"{result.get('gate', {}).get('reason', '')})"
            )
        except Exception as e:  # retry later
            self.summary["trainings"].append({"error": one_line(e, with_type=True)})
            self.say(f"training failed (retrying later): {one_line(e, with_type=True)}")
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
                self.say(f"training on {health['transitions']} transitions ...")
        except ray.exceptions.RayError as e:  # the trainer (or controller) restarting
            log.warning("training not started: %s", one_line(e, with_type=True))
            self._retry_at = time.monotonic() + min(cfg.retrain_every_s, 10.0)

    def close(self) -> None:
        """Stop every actor (and a Ray this process started)."""
        self.plugin.stop()


def _cause(e: BaseException) -> str:
    """The root error of a Ray error on one line: the wrapped exception when Ray kept it, else
    the last ``SomeError: message`` of the remote traceback and what follows it (an actor's
    constructor error arrives as text only)."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        return _cause(cause)
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    starts = [i for i, x in enumerate(lines) if re.match(r"^[\w.]+(Error|Exception): ", x)]
    if starts:
        lines = lines[starts[-1] :]
        head, _, rest = lines[0].partition(": ")
        lines[0] = f"{head.rsplit('.', 1)[-1]}: {rest}"  # pydantic_core._pydantic_core.X -> X
    keep = [x for x in lines if not x.startswith("For further information")]
    return "; ".join(keep)[:300]


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
