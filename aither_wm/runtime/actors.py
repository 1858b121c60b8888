"""Ray actors: thin wrappers over the plain classes, plus the Ray-side plan dispatcher.

===============  ================================  ==========================================
actor            wraps                             notes
===============  ================================  ==========================================
TrainerActor     runtime.services.TrainerService   named, one per namespace; publishes
                                                   ``(version, [state_dict ref])``; resumes
                                                   from its checkpoint and transitions log
                                                   after a restart; GPU when given one
PlannerActor     control.planners.PlannerService   ``num_cpus=1`` and one torch thread;
                                                   pulls weights when the version changes
                                                   (a background poller stages them, ``plan``
                                                   swaps them in between plans)
EncoderActor     runtime.services.EncoderService   pulls weights like a planner
ControllerActor  runtime.loop.ControlLoop          state source -> controller -> executor,
                                                   transitions to the log and the trainer
===============  ================================  ==========================================

Every actor answers ``health()`` in a separate ``control`` concurrency group, so it answers while a
long ``plan``/``train`` runs. Constructor arguments are small plain values (configs as dicts,
graphs as graph-file dicts, actor names), never large objects (a restarted actor must be able to
rebuild itself: ray#53727). Named actors are created with ``get_if_exists=True``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ray
import torch

from aither_wm.control.planners import PlannerService, PlanOutcome, PlanReply, PlanRequest
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.services import EncoderService, TrainerService, TrainerSettings

__all__ = [
    "ActorDispatcher",
    "ControllerActor",
    "EncoderActor",
    "PlannerActor",
    "TrainerActor",
    "TrainerFeed",
    "actor_name",
    "gather",
    "start_encoder",
    "start_planner",
    "start_trainer",
]

log = logging.getLogger(__name__)

#: Concurrency groups of every actor: ``control`` serves health/progress/weights during long calls.
_GROUPS = {"control": 2}


def actor_name(role: str, name: str | None = None) -> str:
    """The registered name of an actor: ``aither_wm.trainer``, ``aither_wm.planner.cem``..."""
    return f"aither_wm.{role}" + (f".{name}" if name else "")


def gather(refs: Mapping[str, Any], timeout_s: float) -> dict[str, tuple[str, Any]]:
    """Wait for several object refs at once (one ``ray.wait``), until ``timeout_s``.

    Returns name -> ("ok", value) | ("error", "Type: message") | ("timeout", None).
    """
    if not refs:
        return {}
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=max(0.0, timeout_s))
    done = set(ready)
    out: dict[str, tuple[str, Any]] = {}
    for name, ref in refs.items():
        if ref not in done:
            out[name] = ("timeout", None)
            continue
        try:
            out[name] = ("ok", ray.get(ref, timeout=0))  # already resolved: no wait
        except Exception as e:
            out[name] = ("error", _one_line(e))
    return out


def _one_line(e: BaseException) -> str:
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException):
        e = cause
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[-1] if text else ''}"[:300]


class _WeightPuller:
    """Fetches ``(version, state_dict)`` from the named trainer in a background thread.

    ``stage`` holds the newest fetched weights until the owner installs them between calls, so a
    plan never runs against half-loaded weights and never waits for a transfer.
    """

    def __init__(
        self,
        trainer: str | None,
        namespace: str | None,
        interval_s: float | None,
        current: Callable[[], int],
    ) -> None:
        self.trainer, self.namespace, self.interval_s = trainer, namespace, interval_s
        self._current = current
        self._handle: Any = None
        self._fetch_lock = threading.Lock()  # one transfer at a time
        self._slot_lock = threading.Lock()  # guards `staged` only: never held during a transfer
        self.staged: tuple[int, dict[str, torch.Tensor]] | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        if trainer and interval_s:
            threading.Thread(target=self._loop, name="weight-puller", daemon=True).start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.fetch()

    def fetch(self) -> int | None:
        """Fetch newer weights into ``staged``; returns their version (None if none newer)."""
        if not self.trainer:
            return None
        with self._fetch_lock:
            try:
                if self._handle is None:
                    self._handle = ray.get_actor(self.trainer, namespace=self.namespace)
                version, refs = ray.get(self._handle.latest.remote(), timeout=10)
                with self._slot_lock:
                    staged_v = self.staged[0] if self.staged else -1
                if version <= max(self._current(), staged_v):
                    return None
                weights = ray.get(refs[0], timeout=60)
                with self._slot_lock:
                    self.staged = (int(version), weights)
                self.last_error = None
                return int(version)
            except Exception as e:  # the trainer may be restarting: keep the current weights
                self._handle = None
                self.last_error = _one_line(e)
                return None

    def take(self) -> tuple[int, dict[str, torch.Tensor]] | None:
        """The staged weights, if any (never waits for a transfer in progress)."""
        with self._slot_lock:
            staged, self.staged = self.staged, None
            return staged

    def stop(self) -> None:
        self._stop.set()


@ray.remote(concurrency_groups=_GROUPS)  # type: ignore[call-overload]
class TrainerActor:
    """The shared trainer (see :class:`~aither_wm.runtime.services.TrainerService`).

    Args:
        settings: a :class:`TrainerSettings` as a dict.
        graphs: graph-file dicts.
        torch_threads: intra-op threads for training (its CPU reservation, at least 1).
    """

    def __init__(
        self,
        settings: Mapping[str, Any],
        graphs: Sequence[Mapping[str, Any]],
        *,
        torch_threads: int = 1,
    ) -> None:
        torch.set_num_threads(max(1, int(torch_threads)))
        s = TrainerSettings.model_validate(dict(settings))
        if ray.get_gpu_ids() and torch.cuda.is_available():
            s = s.model_copy(update={"train": s.train.model_copy(update={"device": "cuda"})})
        self.svc = TrainerService(s, graphs)
        self._ref: Any = None
        self._ref_version = -1
        self._lock = threading.Lock()
        self.started_at = time.time()

    def ingest(self, transitions: Sequence[Any]) -> int:
        return self.svc.ingest(transitions)

    def train(
        self,
        steps: int | None = None,
        seed: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return self.svc.train(steps, seed=seed, overrides=overrides)

    @ray.method(concurrency_group="control")
    def latest(self) -> tuple[int, list[Any]]:
        """``(version, [ref])`` of the published weights (wrapped: the ref is not resolved)."""
        version, sd = self.svc.weights()
        with self._lock:
            if version != self._ref_version:
                self._ref, self._ref_version = ray.put(sd), version
            return version, [self._ref]

    @ray.method(concurrency_group="control")
    def version(self) -> int:
        return self.svc.weights()[0]

    @ray.method(concurrency_group="control")
    def progress(self) -> dict[str, Any]:
        return self.svc.progress()

    @ray.method(concurrency_group="control")
    def health(self) -> dict[str, Any]:
        return {
            "role": "trainer",
            "pid": os.getpid(),
            "gpu_ids": ray.get_gpu_ids(),
            "device": self.svc.settings.train.device,
            **self.svc.health(),
        }


@ray.remote(concurrency_groups=_GROUPS)  # type: ignore[call-overload]
class PlannerActor:
    """One planner (see :class:`~aither_wm.control.planners.PlannerService`).

    Args:
        planner: a registered planner name or a zero-argument factory.
        trainer: name of the trainer actor to pull weights from (None: weights are pushed).
        namespace: the trainer's namespace.
        poll_interval_s: how often to check the trainer's version (None: only on ``sync_weights``).
        torch_threads: intra-op threads (1: one per reserved CPU, see docs/runtime.md).
        **service_kwargs: passed to :class:`PlannerService` (model_config, graphs, ...).
    """

    def __init__(
        self,
        planner: str | Callable[[], Any],
        *,
        trainer: str | None = None,
        namespace: str | None = None,
        poll_interval_s: float | None = 1.0,
        torch_threads: int = 1,
        **service_kwargs: Any,
    ) -> None:
        torch.set_num_threads(max(1, int(torch_threads)))
        self.svc = PlannerService(planner, **service_kwargs)
        self.puller = _WeightPuller(
            trainer, namespace, poll_interval_s, lambda: self.svc.weights_version
        )
        self.puller.fetch()  # start from the published weights when a trainer exists

    def _install_staged(self) -> None:
        staged = self.puller.take()
        if staged is not None:
            self.svc.load_weights(*staged)

    def plan(self, request: PlanRequest) -> PlanReply:
        self._install_staged()
        return self.svc.plan(request)

    def sync_weights(self) -> int:
        """Pull now (if the trainer has a newer version) and install; returns the version in use."""
        self.puller.fetch()
        self._install_staged()
        return self.svc.weights_version

    def load_weights(self, version: int, state_dict: Mapping[str, torch.Tensor]) -> int:
        return self.svc.load_weights(version, state_dict)

    def reset(self) -> None:
        self.svc.reset()

    @ray.method(concurrency_group="control")
    def health(self) -> dict[str, Any]:
        return {
            "role": "planner",
            "torch_threads": torch.get_num_threads(),
            "weights_error": self.puller.last_error,
            **self.svc.health(),
        }


@ray.remote(concurrency_groups=_GROUPS)  # type: ignore[call-overload]
class EncoderActor:
    """State encoder (see :class:`~aither_wm.runtime.services.EncoderService`)."""

    def __init__(
        self,
        model_config: Mapping[str, Any],
        graphs: Sequence[Mapping[str, Any]],
        *,
        trainer: str | None = None,
        namespace: str | None = None,
        poll_interval_s: float | None = 1.0,
        torch_threads: int = 1,
        model_seed: int = 0,
    ) -> None:
        from aither_wm.config import WorldModelConfig

        torch.set_num_threads(max(1, int(torch_threads)))
        self.svc = EncoderService(
            WorldModelConfig.model_validate(dict(model_config)), graphs, model_seed=model_seed
        )
        self.puller = _WeightPuller(
            trainer, namespace, poll_interval_s, lambda: self.svc.weights_version
        )
        self.puller.fetch()

    def encode(self, states: Sequence[Any]) -> dict[str, Any]:
        staged = self.puller.take()
        if staged is not None:
            self.svc.load_weights(*staged)
        return self.svc.encode(states)

    def sync_weights(self) -> int:
        self.puller.fetch()
        staged = self.puller.take()
        if staged is not None:
            self.svc.load_weights(*staged)
        return self.svc.weights_version

    @ray.method(concurrency_group="control")
    def health(self) -> dict[str, Any]:
        return {
            "role": "encoder",
            "pid": os.getpid(),
            "weights_version": self.svc.weights_version,
            "weights_error": self.puller.last_error,
        }


class ActorDispatcher:
    """Sends one request to every planner actor at once and waits (``ray.wait``) until a deadline.

    A planner whose previous request is still running (it hung, or is slow) is not sent another
    (reported ``busy``): requests never pile up behind a stuck actor.

    Args:
        planners: name -> PlannerActor handle.
    """

    def __init__(self, planners: Mapping[str, Any]) -> None:
        self.planners = dict(planners)
        self.names = tuple(self.planners)
        self._pending: dict[str, Any] = {}

    def dispatch(self, request: PlanRequest, timeout_s: float) -> dict[str, PlanOutcome]:
        out: dict[str, PlanOutcome] = {}
        prev = [r for r in self._pending.values()]
        still = set(ray.wait(prev, num_returns=len(prev), timeout=0)[1]) if prev else set()
        refs: dict[str, Any] = {}
        sent = time.perf_counter()
        for n in self.names:
            if n in self._pending and self._pending[n] in still:
                out[n] = PlanOutcome(n, "busy", error="previous request still running")
                continue
            refs[n] = self._pending[n] = self.planners[n].plan.remote(request)
        # Collect as they finish, for per-planner round trips; stop at the deadline.
        deadline = sent + max(0.0, timeout_s)
        waiting = dict(refs)
        done_at: dict[str, float] = {}
        while waiting:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            ready, _ = ray.wait(list(waiting.values()), num_returns=1, timeout=left)
            now = time.perf_counter()
            for n in [n for n, r in waiting.items() if r in ready]:
                done_at[n] = now
                del waiting[n]
        for n, ref in refs.items():
            if n in waiting:
                out[n] = PlanOutcome(
                    n,
                    "timeout",
                    error=f"no answer within {timeout_s * 1e3:.0f} ms",
                    round_trip_ms=(time.perf_counter() - sent) * 1e3,
                )
                continue
            ms = (done_at[n] - sent) * 1e3
            del self._pending[n]
            try:
                out[n] = PlanOutcome(
                    n, "ok", reply=ray.get(ref, timeout=0), round_trip_ms=ms
                )  # resolved
            except Exception as e:
                out[n] = PlanOutcome(n, "error", error=_one_line(e), round_trip_ms=ms)
        return {n: out[n] for n in self.names}

    def close(self) -> None:
        self._pending.clear()


class TrainerFeed:
    """Sends transition batches to the trainer at least once.

    A batch whose call failed because the trainer was down (killed, restarting, its node lost:
    a ``RayActorError``) is sent again with the next batch, so a trainer crash loses no
    transition; a call that died after the trainer logged the batch makes it a duplicate, which
    training tolerates. A batch the trainer refused (its own error) is reported, not resent.

    Args:
        trainer: the trainer actor handle.
        max_unsent: most batches kept while the trainer is away (the oldest go first).
    """

    def __init__(self, trainer: Any, max_unsent: int = 1024) -> None:
        self.trainer = trainer
        self.max_unsent = max_unsent
        self._inflight: list[tuple[Any, list[Any]]] = []
        self._unsent: list[list[Any]] = []
        self.resent = 0
        self.refused = 0
        self.dropped = 0

    def send(self, payload: list[Any]) -> None:
        """Queue ``payload`` (may be empty: only resend) and send every unsent batch."""
        self._collect()
        if payload:
            self._unsent.append(payload)
        if len(self._unsent) > self.max_unsent:
            cut = len(self._unsent) - self.max_unsent
            self.dropped += sum(len(p) for p in self._unsent[:cut])
            log.warning("trainer away too long: dropping %d unsent batches", cut)
            del self._unsent[:cut]
        for p in self._unsent:
            self._inflight.append((self.trainer.ingest.remote(p), p))
        self._unsent = []

    def pending(self) -> int:
        """Transitions not yet acknowledged by the trainer."""
        self._collect()
        return sum(len(p) for _, p in self._inflight) + sum(len(p) for p in self._unsent)

    def _collect(self) -> None:
        if not self._inflight:
            return
        refs = [r for r, _ in self._inflight]
        done = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0])
        still = []
        for ref, p in self._inflight:
            if ref not in done:
                still.append((ref, p))
                continue
            try:
                ray.get(ref, timeout=0)
            except ray.exceptions.RayActorError as e:  # the trainer was down: send it again
                log.warning("trainer down (%s): resending %d transitions", _one_line(e), len(p))
                self._unsent.append(p)
                self.resent += len(p)
            except Exception as e:  # the trainer refused the batch: resending would not help
                log.warning("trainer refused %d transitions: %s", len(p), _one_line(e))
                self.refused += len(p)
        self._inflight = still


@ray.remote(concurrency_groups=_GROUPS)  # type: ignore[call-overload]
class ControllerActor:
    """The autoheal loop as an actor (see :class:`~aither_wm.runtime.loop.ControlLoop`).

    Args:
        spec: a :class:`~aither_wm.runtime.loop.LoopSpec` as a dict (names and paths only).
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        from aither_wm.runtime.loop import LoopSpec, build_loop

        torch.set_num_threads(1)
        self.spec = LoopSpec.model_validate(dict(spec))
        planners = {
            n: ray.get_actor(actor_name("planner", n), namespace=self.spec.namespace)
            for n in self.spec.planners
        }
        trainer = None
        if self.spec.trainer:
            trainer = ray.get_actor(self.spec.trainer, namespace=self.spec.namespace)
        self._feed = TrainerFeed(trainer) if trainer is not None else None
        self.loop = build_loop(self.spec, ActorDispatcher(planners), on_transitions=self._ingest)

    def _ingest(self, batch: list[Any]) -> None:
        if self._feed is not None:
            self._feed.send([t.model_dump(mode="json") for t in batch])

    def tick(self) -> dict[str, Any]:
        """Observe, decide, act (unless dry-run), log; returns the decision record ({"gated": True}
        when an anomaly gate kept the planners asleep)."""
        decision = self.loop.tick()
        return decision.to_record() if decision is not None else {"gated": True}

    def decide(self, state: Any) -> dict[str, Any]:
        """Decide for a state the host observed itself (no state source involved)."""
        return self.loop.controller.decide(state).to_record()

    def flush(self) -> int:
        """Send buffered transitions to the trainer now (and resend batches the trainer missed
        while it was down); returns how many new transitions were sent."""
        n = self.loop.flush()
        if self._feed is not None:
            self._feed.send([])
        return n

    def ingest_pending(self) -> int:
        """Transitions sent to the trainer and not yet acknowledged (0 once all arrived)."""
        return self._feed.pending() if self._feed is not None else 0

    @ray.method(concurrency_group="control")
    def health(self) -> dict[str, Any]:
        return {"role": "controller", "pid": os.getpid(), **self.loop.health()}


def _opts(
    name: str, namespace: str, num_cpus: float, max_restarts: int, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "get_if_exists": True,
        "num_cpus": num_cpus,
        "max_restarts": max_restarts,
        "max_task_retries": 0,
        **extra,
    }


def start_trainer(
    rt: RuntimeConfig, settings: TrainerSettings, graphs: Sequence[Mapping[str, Any]]
) -> Any:
    """Get or create the named trainer actor."""
    return TrainerActor.options(  # type: ignore[attr-defined]
        **_opts(
            actor_name("trainer"),
            rt.namespace,
            rt.trainer_num_cpus,
            rt.max_restarts,
            num_gpus=rt.trainer_num_gpus,
        )
    ).remote(
        settings.model_dump(mode="json"),
        list(graphs),
        torch_threads=max(1, int(rt.trainer_num_cpus)),
    )


def start_planner(
    rt: RuntimeConfig,
    planner: str,
    *,
    name: str | None = None,
    trainer: str | None = None,
    **service_kwargs: Any,
) -> Any:
    """Get or create the named planner actor ``aither_wm.planner.<name>``."""
    n = name or planner
    return PlannerActor.options(  # type: ignore[attr-defined]
        **_opts(
            actor_name("planner", n),
            rt.namespace,
            rt.planner_num_cpus,
            rt.max_restarts,
        )
    ).remote(planner, trainer=trainer, namespace=rt.namespace, name=n, **service_kwargs)


def start_encoder(
    rt: RuntimeConfig,
    model_config: Mapping[str, Any],
    graphs: Sequence[Mapping[str, Any]],
    *,
    trainer: str | None = None,
) -> Any:
    """Get or create the named encoder actor."""
    return EncoderActor.options(  # type: ignore[attr-defined]
        **_opts(
            actor_name("encoder"),
            rt.namespace,
            rt.encoder_num_cpus,
            rt.max_restarts,
        )
    ).remote(dict(model_config), list(graphs), trainer=trainer, namespace=rt.namespace)
