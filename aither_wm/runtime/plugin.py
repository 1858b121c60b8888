"""The host-facing plugin object: ``setup``, ``start``, ``health``, ``stop`` (all idempotent).

A host (the ``aither-wm`` CLI itself is one: ``run`` and ``demo`` use this class) does::

    plugin = AitherPlugin(PluginConfig(graph="graphs/online-boutique.json"))
    plugin.setup()        # Ray: embedded, or the cluster in RAY_ADDRESS
    plugin.start()        # named actors: trainer, planners (cem, mcts), optional encoder
    plugin.health()       # every actor's health(), gathered with one deadline
    plugin.stop()         # kill the actors this object started, shut down a Ray it started

Actors are named in the plugin's namespace and created with ``get_if_exists``, so a second host
process (or a second ``start``) attaches to the running ones instead of starting duplicates.

:class:`ServiceConfig` is the plugin's settings plus the control loop's: the ``aither-wm run``
configuration file (:func:`load_service_config`), which the service (:mod:`aither_wm.apps.service`)
runs and the manifest describes.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import ray
from pydantic import Field, ValidationError

from aither_wm.config import FrozenConfig, TrainConfig, WorldModelConfig
from aither_wm.control.controller import ControllerConfig
from aither_wm.control.planners import graph_to_dict
from aither_wm.errors import ConfigError, validation_message
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.runtime.actors import (
    ActorDispatcher,
    actor_name,
    gather,
    start_encoder,
    start_planner,
    start_trainer,
)
from aither_wm.runtime.host import RayHost, RuntimeConfig
from aither_wm.runtime.loop import ComponentRef
from aither_wm.runtime.services import TrainerSettings

__all__ = ["AitherPlugin", "PlannerSpec", "PluginConfig", "ServiceConfig", "load_service_config"]


class PlannerSpec(FrozenConfig):
    """One planner actor."""

    kind: str = "cem"
    """Registered planner name (cem, mcts, beam, or a plugin's)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Settings for the planner factory (e.g. CEMConfig fields)."""


class PluginConfig(FrozenConfig):
    """The plugin's settings (the ``aither-wm run`` config file holds these and more)."""

    graph: str = "graphs/online-boutique.json"
    """The mesh's graph file."""
    runtime: RuntimeConfig = RuntimeConfig()
    """Ray and actor resources."""
    model: WorldModelConfig = WorldModelConfig()
    """World model architecture (a checkpoint's own config wins)."""
    train: TrainConfig = TrainConfig()
    """Training run settings."""
    checkpoint: str | None = "runs/world_model.pt"
    """Trainer checkpoint: written after each run, reloaded on (re)start."""
    trainer_transitions_log: str | None = "runs/trainer_transitions.jsonl"
    """Where the trainer persists ingested transitions (reloaded on restart)."""
    planners: dict[str, PlannerSpec] = Field(
        default_factory=lambda: {"cem": PlannerSpec(kind="cem"), "mcts": PlannerSpec(kind="mcts")}
    )
    """Planner actors by name."""
    cost_per_type: dict[str, float] = Field(default_factory=dict)
    """Per-type action costs of the planning objective (empty: the defaults)."""
    poll_interval_s: float | None = Field(default=1.0, gt=0.0)
    """How often planners check the trainer for new weights."""
    use_encoder: bool = False
    """Also start the encoder actor (state -> latents for a host's own use)."""


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
    """Read and validate a JSON or TOML (``.toml``) service config.

    Raises:
        ConfigError: unreadable file, bad syntax, or an invalid/unknown key (named).
    """
    p = Path(path)
    is_toml = p.suffix.lower() == ".toml"
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config ({e})") from None
    try:
        if is_toml:
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except Exception as e:
        raise ConfigError(f"{p}: not valid {'TOML' if is_toml else 'JSON'} ({e})") from None
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{p}: {validation_message(e, show_input=False)}") from None


class AitherPlugin:
    """Lifecycle of the plugin's actors (see the module docstring).

    Args:
        config: the plugin's settings.
        graph: the graph, if already loaded (else read from ``config.graph``).
    """

    def __init__(
        self, config: PluginConfig | None = None, *, graph: ServiceGraph | None = None
    ) -> None:
        self.config = config or PluginConfig()
        self.graph = graph or load_graph(self.config.graph)
        self.host = RayHost(self.config.runtime)
        self.trainer: Any = None
        self.planners: dict[str, Any] = {}
        self.encoder: Any = None
        self._extra: dict[str, Any] = {}
        self.is_setup = False
        self.is_started = False

    @property
    def namespace(self) -> str:
        return self.config.runtime.namespace

    def setup(self) -> dict[str, Any]:
        """Start or connect to Ray (idempotent); returns the host summary."""
        if not self.is_setup:
            self.host.start()
            self.is_setup = True
        return dict(self.host.info)

    def trainer_settings(self) -> TrainerSettings:
        c = self.config
        return TrainerSettings(
            model=c.model,
            train=c.train,
            checkpoint_path=c.checkpoint,
            transitions_log=c.trainer_transitions_log,
        )

    def start(self) -> dict[str, Any]:
        """Create (or attach to) the trainer, planner and encoder actors (idempotent)."""
        self.setup()
        if self.is_started:
            return self.names()
        c, rt = self.config, self.config.runtime
        graphs = [graph_to_dict(self.graph)]
        for p in (c.checkpoint, c.trainer_transitions_log):
            if p:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
        self.trainer = start_trainer(rt, self.trainer_settings(), graphs)
        trainer_name = actor_name("trainer")
        model_config = c.model.model_dump(mode="json")
        if c.checkpoint and Path(c.checkpoint).is_file():
            from aither_wm.train import load_checkpoint

            model_config = load_checkpoint(c.checkpoint).model.config.model_dump(mode="json")
        for name, spec in c.planners.items():
            self.planners[name] = start_planner(
                rt,
                spec.kind,
                name=name,
                trainer=trainer_name,
                model_config=model_config,
                graphs=graphs,
                planner_config=spec.config,
                cost_per_type=c.cost_per_type or None,
                poll_interval_s=c.poll_interval_s,
            )
        if c.use_encoder:
            self.encoder = start_encoder(rt, model_config, graphs, trainer=trainer_name)
        self.is_started = True
        return self.names()

    def add_actor(self, role: str, handle: Any) -> None:
        """Track another actor (e.g. the controller) for ``health`` and ``stop``."""
        self._extra[role] = handle

    def names(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "namespace": self.namespace,
            "trainer": actor_name("trainer"),
            "planners": {n: actor_name("planner", n) for n in self.planners},
        }
        if self.encoder is not None:
            out["encoder"] = actor_name("encoder")
        return out

    def dispatcher(self) -> ActorDispatcher:
        """A dispatcher over this plugin's planner actors (for an in-driver controller)."""
        if not self.is_started:
            self.start()
        return ActorDispatcher(self.planners)

    def sync_weights(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Make every planner (and the encoder) pull the trainer's latest weights now."""
        refs = {n: h.sync_weights.remote() for n, h in self.planners.items()}
        if self.encoder is not None:
            refs["encoder"] = self.encoder.sync_weights.remote()
        return {n: v if s == "ok" else f"{s}: {v}" for n, (s, v) in gather(refs, timeout_s).items()}

    def health(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """Every actor's ``health()``, gathered with one deadline; an actor that does not answer
        in time (or is dead) is reported, not raised."""
        if not self.is_started:
            return {"status": "not started", "ray": dict(self.host.info)}
        actors: dict[str, Any] = {
            "trainer": self.trainer,
            **{f"planner.{n}": h for n, h in self.planners.items()},
        }
        if self.encoder is not None:
            actors["encoder"] = self.encoder
        actors.update(self._extra)
        started = time.perf_counter()
        res = gather({n: h.health.remote() for n, h in actors.items()}, timeout_s)
        report = {n: (v if s == "ok" else {"status": s, "error": v}) for n, (s, v) in res.items()}
        ok = all(s == "ok" for s, _ in res.values())
        return {
            "status": "ok" if ok else "degraded",
            "actors": report,
            "latency_ms": (time.perf_counter() - started) * 1e3,
            "ray": dict(self.host.info),
        }

    def stop(self) -> None:
        """Kill the actors this object started or attached to and shut down a Ray it started
        (idempotent)."""
        if ray.is_initialized():
            handles = [self.trainer, self.encoder, *self.planners.values(), *self._extra.values()]
            for h in handles:
                if h is not None:
                    with contextlib.suppress(Exception):  # already dead
                        ray.kill(h, no_restart=True)
        self.trainer, self.encoder = None, None
        self.planners, self._extra = {}, {}
        self.is_started = False
        self.host.stop()
        self.is_setup = False

    def __enter__(self) -> AitherPlugin:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
