"""Check a configuration before anything starts: every name, path and number, one line on error.

A mistake that reaches Ray surfaces late and badly: an unknown planner kind fails inside an
actor's constructor (a Python traceback, a C++ stack, SIGABRT, and the service waits on the
actor), an unknown state source fails on every tick. :func:`validate_service_config` and
:func:`validate_plugin_config` find those mistakes first, without Ray, and raise one
:class:`~aither_wm.errors.ConfigError` whose message names the field, what was wrong and, for a
name, the closest known one ("did you mean 'mcts'?").

Checked: the graph (a file or a shipped name, loaded and validated); each planner's kind (the
registry) and its settings (its factory's config model); ``cost_per_type`` keys; the checkpoint
(when the file exists: a loadable aither-wm checkpoint); that every output file's folder can be
created; the actors fit an embedded Ray; the state source's and executor's names and option
names; the plugin allowlist's names; the guard's protected services and the controller's
preferred planners. Numbers and unknown keys are checked by the config models themselves.
"""

from __future__ import annotations

import difflib
import inspect
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from aither_wm.errors import AitherError, ConfigError, one_line
from aither_wm.graph.actions import ACTION_TYPES
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.registry import Registry, build_registry, default_registry
from aither_wm.runtime.loop import ComponentRef
from aither_wm.runtime.resources import check_schedulable, derive_resources
from aither_wm.runtime.settings import PluginConfig, ServiceConfig

__all__ = ["did_you_mean", "validate_plugin_config", "validate_service_config"]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean 'mcts'?"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(field: str, name: str, known: Collection[str]) -> ConfigError:
    return ConfigError(
        f"{field}: unknown name {name!r} (known: {', '.join(sorted(known)) or 'none'})"
        + did_you_mean(name, known)
    )


def _check_writable_parent(field: str, path: str | None) -> None:
    """The folder of ``path`` exists or can be created, and is writable."""
    if not path:
        return
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        raise ConfigError(f"{field}: {path} is a folder, expected a file path")
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{field}: cannot create the folder of {path} ({parent} is a file)")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{field}: cannot write under {parent} (permission denied)")


def validate_plugin_config(
    cfg: PluginConfig,
    *,
    registry: Registry | None = None,
    graph: ServiceGraph | None = None,
) -> dict[str, Any]:
    """Check the plugin's section; return the world model's config (as a dict) the planners
    will use: the checkpoint's own when the checkpoint exists, else ``cfg.model``.

    Raises:
        ConfigError: the first problem, on one line.
    """
    reg = registry or default_registry()
    try:
        graph = graph or load_graph(cfg.graph)
    except AitherError as e:
        raise ConfigError(f"plugin.graph: {one_line(e)}") from None
    if not cfg.planners:
        raise ConfigError("plugin.planners: at least one planner is needed")
    known = reg.names("planner")
    for name, spec in cfg.planners.items():
        if not name.strip() or "/" in name:
            raise ConfigError(f"plugin.planners: invalid planner name {name!r}")
        if spec.kind not in known:
            raise _unknown(f"plugin.planners.{name}.kind", spec.kind, known)
        try:  # the factory validates its settings (CEMConfig, MCTSConfig, ...)
            reg.create("planner", spec.kind, spec.config or None)
        except Exception as e:
            raise ConfigError(f"plugin.planners.{name}.config: {one_line(e)}") from None
    for key in cfg.cost_per_type:
        if key not in ACTION_TYPES:
            raise _unknown("plugin.cost_per_type", key, ACTION_TYPES)
    model_config = cfg.model.model_dump(mode="json")
    if cfg.checkpoint and Path(cfg.checkpoint).exists():
        from aither_wm.train import load_checkpoint

        try:
            model_config = load_checkpoint(cfg.checkpoint).model.config.model_dump(mode="json")
        except AitherError as e:
            raise ConfigError(f"plugin.checkpoint: {one_line(e)}") from None
    _check_writable_parent("plugin.checkpoint", cfg.checkpoint)
    _check_writable_parent("plugin.trainer_transitions_log", cfg.trainer_transitions_log)
    rt = cfg.runtime
    if not (rt.address or os.environ.get("RAY_ADDRESS")):  # an embedded Ray: its size is known
        import ray

        if not ray.is_initialized():
            cpus = float(rt.num_cpus or os.cpu_count() or 1)
            res = derive_resources(
                cpus=cpus,
                planners=len(cfg.planners),
                use_encoder=cfg.use_encoder,
                trainer_cpus=rt.trainer_num_cpus,
                planner_cpus=rt.planner_num_cpus,
                encoder_cpus=rt.encoder_num_cpus,
                controller_cpus=rt.controller_num_cpus,
                trainer_gpus=rt.trainer_num_gpus,
            )
            gpus = rt.num_gpus if rt.num_gpus is not None else _visible_gpus()
            check_schedulable(res, cpus=cpus, gpus=gpus, is_fixed_size=True)
    return model_config


def _visible_gpus() -> int:
    import torch

    return int(torch.cuda.device_count())


def _check_component(reg: Registry, kind: str, field: str, ref: ComponentRef) -> None:
    """``ref`` names a registered ``kind`` and its options are parameters of its factory."""
    known = reg.names(kind)
    if ref.name not in known:
        raise _unknown(f"{field}.name", ref.name, known)
    try:
        factory = reg.load(kind, ref.name)
    except Exception as e:
        raise ConfigError(f"{field}.name: {ref.name!r} cannot be loaded ({one_line(e)})") from None
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in ref.options:
        if key not in accepted:
            raise ConfigError(
                f"{field}.options: {ref.name!r} takes no option {key!r} "
                f"(it takes: {', '.join(accepted) or 'none'})" + did_you_mean(key, accepted)
            )


def _check_allowlist(allow: tuple[str, ...] | None) -> None:
    if allow is None:
        return
    import importlib.metadata

    from aither_wm.registry import ENTRY_POINT_GROUP

    installed: set[str] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        installed.add(ep.name)
        dist = getattr(getattr(ep, "dist", None), "name", None)
        if dist:
            installed.add(dist)
    for name in allow:
        if name not in installed:
            raise _unknown("plugin_allow", name, installed)


def validate_service_config(
    cfg: ServiceConfig, *, registry: Registry | None = None
) -> dict[str, Any]:
    """Check the whole ``aither-wm run`` config (the plugin's section included); return the
    world model's config as :func:`validate_plugin_config` does.

    Raises:
        ConfigError: the first problem, on one line.
    """
    _check_allowlist(cfg.plugin_allow)
    reg = registry or build_registry(allow=cfg.plugin_allow)
    try:
        graph = load_graph(cfg.plugin.graph)
    except AitherError as e:
        raise ConfigError(f"plugin.graph: {one_line(e)}") from None
    model_config = validate_plugin_config(
        cfg.plugin,
        registry=reg,
        graph=graph,
    )
    _check_component(reg, "state_source", "state_source", cfg.state_source)
    if cfg.executor is not None:
        _check_component(reg, "executor", "executor", cfg.executor)
    for name in cfg.controller.guard.protected_services:
        if name not in graph.services:
            raise _unknown("controller.guard.protected_services", name, graph.services)
    pick = cfg.controller.pick
    if pick.startswith("prefer_") and pick[len("prefer_") :] not in cfg.plugin.planners:
        raise ConfigError(
            f"controller.pick: {pick!r} needs a planner named {pick[len('prefer_') :]!r} "
            f"(configured: {', '.join(cfg.plugin.planners)})"
        )
    _check_writable_parent("audit_log", cfg.audit_log)
    _check_writable_parent("transitions_log", cfg.transitions_log)
    return model_config
