"""The plain classes the trainer and encoder actors wrap (no Ray in this module).

:class:`TrainerService` owns the one trainable world model: it ingests transitions (appending them
to a durable transitions log first, when one is configured), trains, writes an atomic checkpoint
and publishes ``(version, state_dict)``. Built again after a crash, it reloads the checkpoint and
the transitions log, so neither the model nor a logged transition is lost.

:class:`EncoderService` turns mesh states into latents and per-service embeddings with the
published weights.

Glossary: B states, N services, d service width, D latent.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from pydantic import Field

from aither_wm.config import FrozenConfig, TrainConfig, WorldModelConfig
from aither_wm.errors import StateError
from aither_wm.graph.schema import ServiceGraph, graph_from_dict
from aither_wm.graph.state import MeshState, Transition
from aither_wm.models.mesh_model import MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.train import TransitionDataset, evaluate, fit, load_checkpoint, save_checkpoint
from aither_wm.train.metrics import is_collapsed

__all__ = ["EncoderService", "TrainerService", "TrainerSettings", "as_graphs"]


def as_graphs(graphs: Iterable[ServiceGraph | Mapping[str, Any]]) -> dict[str, ServiceGraph]:
    """Graphs by name, from ServiceGraph objects or graph-file dicts."""
    out = {}
    for g in graphs:
        graph = g if isinstance(g, ServiceGraph) else graph_from_dict(dict(g), source="<actor>")
        out[graph.name] = graph
    return out


def _fresh_model(config: WorldModelConfig, seed: int) -> WorldModel:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return WorldModel(config)


class TrainerSettings(FrozenConfig):
    """The trainer's section."""

    model: WorldModelConfig = WorldModelConfig()
    """Architecture (ignored when a checkpoint exists: the checkpoint's own config wins)."""
    train: TrainConfig = TrainConfig()
    """Training run settings (``steps`` per :meth:`TrainerService.train` unless overridden)."""
    checkpoint_path: str | None = None
    """Checkpoint written after every training run and reloaded on (re)start; None: none."""
    transitions_log: str | None = None
    """Ingested transitions are appended here before they are trained on, and reloaded on
    (re)start; None: memory only (lost with the process)."""
    max_buffer: int = Field(default=200_000, ge=1)
    """Most recent transitions kept for training."""
    min_transitions: int = Field(default=32, ge=1)
    """Refuse to train on fewer transitions than this."""
    model_seed: int = 0
    """Seed of the initial weights when there is no checkpoint."""
    use_gate: bool = True
    """Publish a retrained model only if it passes the regression gate (below)."""
    gate_tolerance: float = Field(default=0.02, ge=0.0)
    """Regression gate: a retrained model is published only if its held-out error ratio (vs
    "nothing changes") is at most the published model's ratio + this, on the same held-out slice,
    and it has not collapsed. The first trained version (over untrained weights, which are never
    used) passes unless it is non-finite; its collapse test is reported."""


class TrainerService:
    """Ingest, train, checkpoint, publish (see the module docstring).

    Args:
        settings: the trainer's section.
        graphs: the graphs transitions may belong to.
    """

    def __init__(
        self, settings: TrainerSettings, graphs: Sequence[ServiceGraph | Mapping[str, Any]]
    ) -> None:
        self.settings = settings
        self.graphs = as_graphs(graphs)
        self.version = 0
        self.resumed_from: str | None = None
        ck_path = Path(settings.checkpoint_path) if settings.checkpoint_path else None
        if ck_path is not None and ck_path.is_file():
            ck = load_checkpoint(ck_path)
            self.model, self.version = ck.model, ck.version
            self.resumed_from = str(ck_path)
        else:
            self.model = _fresh_model(settings.model, settings.model_seed)
        self._buffer: deque[Transition] = deque(maxlen=settings.max_buffer)
        self._writer = None
        self.reloaded_transitions = 0
        if settings.transitions_log:
            from aither_wm.data.log import TransitionLogWriter, read_transitions

            log_path = Path(settings.transitions_log)
            if log_path.is_file():
                report = read_transitions(log_path)
                self._buffer.extend(t for t in report.transitions if t.graph in self.graphs)
                self.reloaded_transitions = len(self._buffer)
            self._writer = TransitionLogWriter(log_path)
        self._published: tuple[int, dict[str, torch.Tensor]] = (self.version, self._snapshot())
        self._progress: dict[str, Any] = {"phase": "idle", "step": 0, "total": 0, "loss": None}
        self._train_lock = threading.Lock()
        self.runs: list[dict[str, Any]] = []

    def _snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    # data --------------------------------------------------------------------------------------

    def ingest(self, transitions: Iterable[Transition | Mapping[str, Any]]) -> int:
        """Validate, log (durably, first) and buffer transitions; returns the buffer size.

        Raises:
            StateError: a transition of a graph this trainer does not know.
        """
        batch = [
            t if isinstance(t, Transition) else Transition.model_validate(t) for t in transitions
        ]
        unknown = sorted({t.graph for t in batch} - set(self.graphs))
        if unknown:
            raise StateError(
                f"trainer knows graphs {sorted(self.graphs)}, got transitions of {unknown}"
            )
        if self._writer is not None:
            for t in batch:
                self._writer.append(t)
        self._buffer.extend(batch)
        return len(self._buffer)

    @property
    def num_transitions(self) -> int:
        return len(self._buffer)

    # training ----------------------------------------------------------------------------------

    def train(
        self,
        steps: int | None = None,
        *,
        seed: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Train a candidate from the current weights on the buffered transitions; publish it (new
        version, checkpoint) only if it passes the regression gate; return a summary whose
        ``published`` says which happened and ``gate`` why.

        ``overrides`` replace TrainConfig fields for this run only (e.g. ``{"lam": 0.3}``).

        Raises:
            StateError: fewer than ``min_transitions`` transitions are buffered.
        """
        with self._train_lock:
            if len(self._buffer) < self.settings.min_transitions:
                raise StateError(
                    f"need at least {self.settings.min_transitions} transitions to train, "
                    f"have {len(self._buffer)}"
                )
            cfg = self.settings.train
            update: dict[str, Any] = {}
            if steps is not None:
                update["steps"] = int(steps)
                update["warmup_steps"] = min(cfg.warmup_steps, max(0, int(steps) // 10))
            if seed is not None:
                update["seed"] = int(seed)
            update.update(dict(overrides or {}))
            if cfg.device.startswith("cuda") and not torch.cuda.is_available():
                update["device"] = "cpu"
            cfg = cfg.model_copy(update=update)
            data = TransitionDataset.from_transitions(list(self._buffer), self.graphs)
            train, held = data.split(cfg.holdout_fraction) if len(data) >= 10 else (data, None)
            self._progress = {"phase": "training", "step": 0, "total": cfg.steps, "loss": None}
            started = time.perf_counter()

            def on_step(info: Any) -> None:
                self._progress = {
                    "phase": "training",
                    "step": info.step + 1,
                    "total": cfg.steps,
                    "loss": info.total,
                    "pred": info.pred,
                    "reg": info.reg,
                }

            candidate = copy.deepcopy(self.model)
            report = fit(candidate, train, cfg, holdout=held, progress=on_step)
            candidate.eval()
            gate = self._gate(candidate, report.holdout_eval, held)
            if not gate["passed"]:
                self._progress = {
                    "phase": "idle",
                    "step": report.steps,
                    "total": cfg.steps,
                    "loss": report.final.get("total"),
                }
                rejected = {
                    "version": self.version,
                    "published": False,
                    "gate": gate,
                    "steps": report.steps,
                    "transitions": len(data),
                    "seconds": round(time.perf_counter() - started, 3),
                }
                self.runs.append(rejected)
                return rejected
            self.model = candidate
            version = self.version + 1
            summary: dict[str, Any] = {
                "version": version,
                "published": True,
                "gate": gate,
                "steps": report.steps,
                "transitions": len(data),
                "seconds": round(time.perf_counter() - started, 3),
                "transitions_per_s": report.transitions_per_s,
                "final": report.final,
                "device": cfg.device,
                "history": [round(r[0], 6) for r in report.history],
            }
            if report.holdout_eval is not None:
                ev = report.holdout_eval
                summary["holdout"] = {
                    k: getattr(ev, k)
                    for k in ("n", "ratio", "effective_rank", "latent_var")
                    if hasattr(ev, k)
                }
            if self.settings.checkpoint_path:
                meta = {
                    "transitions": len(data),
                    "steps": report.steps,
                    "graphs": sorted(self.graphs),
                }
                save_checkpoint(
                    self.model, self.settings.checkpoint_path, version=version, meta=meta
                )
                summary["checkpoint"] = self.settings.checkpoint_path
            self.version = version
            self._published = (version, self._snapshot())
            self._progress = {
                "phase": "idle",
                "step": report.steps,
                "total": cfg.steps,
                "loss": report.final.get("total"),
            }
            self.runs.append({k: v for k, v in summary.items() if k != "history"})
            return summary

    def _gate(
        self, candidate: WorldModel, cand_eval: Any, held: TransitionDataset | None
    ) -> dict[str, Any]:
        """The regression gate (see ``TrainerSettings.gate_tolerance``)."""
        if not self.settings.use_gate:
            return {"passed": True, "reason": "gate off (use_gate=False)"}
        if cand_eval is None or held is None:
            return {"passed": True, "reason": "no held-out slice (too few transitions)"}
        new = {
            "ratio": cand_eval.ratio,
            "latent_var": cand_eval.latent_var,
            "effective_rank": cand_eval.effective_rank,
        }
        if not all(math.isfinite(v) for v in new.values()):
            return {
                "passed": False,
                "reason": "candidate produced non-finite values",
                "candidate": new,
            }
        collapsed = is_collapsed(cand_eval.effective_rank, cand_eval.latent_var)
        if self.version == 0:  # nothing to compare with; untrained weights are never used anyway
            return {
                "passed": True,
                "reason": "first trained version",
                "candidate": new,
                "collapsed": collapsed,
            }
        if collapsed:
            return {"passed": False, "reason": "candidate collapsed", "candidate": new}
        prev = evaluate(self.model, held)
        old = {
            "ratio": prev.ratio,
            "latent_var": prev.latent_var,
            "effective_rank": prev.effective_rank,
        }
        passed = cand_eval.ratio <= prev.ratio + self.settings.gate_tolerance
        reason = (
            "not worse on the held-out slice"
            if passed
            else "worse than the published model on the held-out slice"
        )
        return {"passed": passed, "reason": reason, "candidate": new, "published": old}

    def weights(self) -> tuple[int, dict[str, torch.Tensor]]:
        """The published ``(version, state_dict)`` (never a half-trained model)."""
        return self._published

    def progress(self) -> dict[str, Any]:
        """Training progress (safe to call from another thread during :meth:`train`)."""
        return dict(self._progress)

    def health(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "transitions": len(self._buffer),
            "reloaded_transitions": self.reloaded_transitions,
            "resumed_from": self.resumed_from,
            "progress": self.progress(),
            "graphs": sorted(self.graphs),
        }


class EncoderService:
    """Mesh states -> latents and per-service embeddings, with published weights.

    Args:
        model_config: architecture.
        graphs: graphs states may belong to.
        model_seed: seed of the initial (version 0) weights.
    """

    def __init__(
        self,
        model_config: WorldModelConfig,
        graphs: Sequence[ServiceGraph | Mapping[str, Any]],
        *,
        model_seed: int = 0,
    ) -> None:
        self.graphs = as_graphs(graphs)
        self._mesh = MeshWorldModel(_fresh_model(model_config, model_seed))
        self.weights_version = 0

    def load_weights(self, version: int, state_dict: Mapping[str, torch.Tensor]) -> int:
        if int(version) > self.weights_version:
            self._mesh.model.load_state_dict(dict(state_dict))
            self._mesh.model.eval()
            self.weights_version = int(version)
        return self.weights_version

    def encode(self, states: Sequence[MeshState]) -> dict[str, Any]:
        """Encode states of one graph.

        Returns: ``{"z": [B, D], "services": [B, N, d], "weights_version": int}``.
        """
        if not states:
            raise StateError("encode needs at least one state")
        names = {s.graph for s in states}
        if len(names) != 1 or next(iter(names)) not in self.graphs:
            raise StateError(
                f"encode takes states of one known graph {sorted(self.graphs)}, got {sorted(names)}"
            )
        enc = self._mesh.encode(self.graphs[states[0].graph], list(states))
        return {
            "z": enc.z.clone(),
            "services": enc.services.clone(),
            "weights_version": self.weights_version,
        }
