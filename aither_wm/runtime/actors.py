"""Ray actors: thin wrappers over the plain classes, plus the Ray-side plan dispatcher.

===============  ================================  ==========================================
actor            wraps                             notes
===============  ================================  ==========================================
TrainerActor     runtime.services.TrainerService   named, one per namespace; publishes
                                                   ``(version, [state_dict ref])``; resumes
                                                   from its checkpoint and transitions log
                                                   after a restart; GPU when given one
PlannerActor     control.planners.PlannerService   one torch thread (CPUs: derived,
                                                   ``runtime.resources``);
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
rebuild itself: ray#53727). Named actors are created with ``get_if_exists=True``. Weights reach
planners and the encoder through :class:`~aither_wm.runtime.weights.WeightPuller`; the driver's side
of the calls (``gather``, ``ActorDispatcher``, ``TrainerFeed``) is in :mod:`aither_wm.runtime.dispatch`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ray
import torch

from aither_wm.control.planners import PlannerService, PlanReply, PlanRequest
from aither_wm.runtime.dispatch import ActorDispatcher, TrainerFeed, gather
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.metrics import record_decision, record_training
from aither_wm.runtime.resources import FULL_CPUS
from aither_wm.runtime.services import EncoderService, TrainerService, TrainerSettings
from aither_wm.runtime.weights import WeightPuller

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

#: Concurrency groups of every actor: ``control`` serves health/progress/weights during long calls.
_GROUPS = {"control": 2}


def actor_name(role: str, name: str | None = None) -> str:
    """The registered name of an actor: ``aither_wm.trainer``, ``aither_wm.planner.cem``..."""
    return f"aither_wm.{role}" + (f".{name}" if name else "")


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

    def ingest(self, transitions: Sequence[Any]) -> int:
        return self.svc.ingest(transitions)

    def train(
        self,
        steps: int | None = None,
        seed: int | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        summary = self.svc.train(steps, seed=seed, overrides=overrides)
        record_training(summary)
        return summary

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
        self.puller = WeightPuller(
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
        self.puller = WeightPuller(
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
        if decision is None:
            return {"gated": True}
        record = decision.to_record()
        record_decision(record)
        return record

    def decide(self, state: Any) -> dict[str, Any]:
        """Decide for a state the host observed itself (no state source involved)."""
        record = self.loop.controller.decide(state).to_record()
        record_decision(record)
        return record

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
        feed = self._feed.counts() if self._feed is not None else None
        return {
            "role": "controller",
            "pid": os.getpid(),
            **self.loop.health(),
            "trainer_feed": feed,
        }


def _cpus(value: float | None, role: str) -> float:
    """A configured reservation, or the role's full size when it is unset (None)."""
    return FULL_CPUS[role] if value is None else float(value)


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
    """Get or create the named trainer actor (``rt.trainer_num_cpus`` None: 1 CPU; the plugin
    passes the derived share)."""
    cpus = _cpus(rt.trainer_num_cpus, "trainer")
    return TrainerActor.options(  # type: ignore[attr-defined]
        **_opts(
            actor_name("trainer"),
            rt.namespace,
            cpus,
            rt.max_restarts,
            num_gpus=rt.trainer_num_gpus,
        )
    ).remote(
        settings.model_dump(mode="json"),
        list(graphs),
        torch_threads=max(1, int(cpus)),
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
            _cpus(rt.planner_num_cpus, "planner"),
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
            _cpus(rt.encoder_num_cpus, "encoder"),
            rt.max_restarts,
        )
    ).remote(dict(model_config), list(graphs), trainer=trainer, namespace=rt.namespace)
