"""The plugin's settings and the ``aither-wm run`` configuration file.

:class:`PluginConfig` is what :class:`~aither_wm.runtime.plugin.AitherPlugin` needs (graph, Ray
and actor resources, model, training, planner actors); :class:`ServiceConfig` adds the control
loop's settings (state source, executor, controller and guard, schedule, logs): the file
``aither-wm run --config`` reads (:func:`load_service_config`, JSON or TOML). Nothing here starts
Ray; :mod:`aither_wm.runtime.validate` checks names, paths and numbers before anything does.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import Field, ValidationError

from aither_wm.config import FrozenConfig, TrainConfig, WorldModelConfig
from aither_wm.control.controller import ControllerConfig
from aither_wm.errors import ConfigError, validation_message
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.loop import ComponentRef

__all__ = ["PlannerSpec", "PluginConfig", "ServiceConfig", "load_service_config"]


class PlannerSpec(FrozenConfig):
    """One planner actor."""

    kind: str = "cem"
    """Registered planner name (cem, mcts, beam, or a plugin's)."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Settings for the planner factory (e.g. CEMConfig fields)."""


class PluginConfig(FrozenConfig):
    """The plugin's settings (the ``aither-wm run`` config file holds these and more)."""

    graph: str = "online-boutique"
    """The mesh: a shipped graph's name (``aither-wm state example --help`` lists them) or a
    graph file's path."""
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
    report_every: int = Field(default=1, ge=0)
    """Print one line on stderr every this many decisions (0: none; the banner, training runs
    and the summary on exit are always printed)."""
    progress_every_s: float = Field(default=10.0, ge=0.0)
    """While the trainer trains, print its progress once per this many seconds (0: never)."""
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
        data = _toml_module(p).loads(text) if is_toml else json.loads(text)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"{p}: not valid {'TOML' if is_toml else 'JSON'} ({e})") from None
    try:
        return ServiceConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{p}: {validation_message(e, show_input=False)}") from None


def _toml_module(path: Path) -> ModuleType:
    """``tomllib`` (Python 3.11+), else the ``tomli`` backport (installed on 3.10 as a
    dependency), else a ConfigError that says what to do."""
    try:
        import tomllib

        return tomllib
    except ModuleNotFoundError:
        pass
    try:
        import tomli

        return tomli
    except ModuleNotFoundError:
        raise ConfigError(
            f"{path}: reading TOML needs Python 3.11+ or the 'tomli' package "
            f"(pip install tomli); or write the config as JSON"
        ) from None
