"""``aither-wm bench anomaly``: does the world model see trouble before the health checks do?

Episodes on the simulator under a no-op policy (nothing heals; we only watch): every fault type,
injected at ``onset_step`` after a nominal prefix, plus fault-free episodes. Three detectors watch
the same steps, each with its own alarm rule and the same incident logic (open / close with
hysteresis and cooldown, from :class:`~aither_wm.anomaly.SurpriseDetector`):

* ``world_model``: violation of expectation, the 8-step open-loop surprise
  ||z_hat_t - z_t||^2 / D (see :mod:`aither_wm.anomaly.surprise`);
* ``world_model_1step``: the same with the one-step surprise (reported to show why 8);
* ``nsigma``: the max absolute z-score of raw metrics (every service x metric against its own
  running nominal mean/std), the RCAEval ``nsigma`` idea, alarm at 3;
* ``health_check``: the reactive signal itself: alarm when any service is not healthy.

Scoring per episode: an incident that opens before the onset (or in a fault-free episode) is a
false alarm; the first one at or after the onset is a detection. ``lead_steps`` = (first failed
health check or SLO breach after the onset, whichever comes first) - (detection step); positive
means the detector fired first. Reported per fault type and overall: precision (detections /
incidents), recall (detected fault episodes / fault episodes), false alarms per step and per hour
on fault-free traffic, median lead time.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aither_wm.anomaly.detector import DetectorConfig, SurpriseDetector
from aither_wm.anomaly.surprise import open_loop_surprise
from aither_wm.config import TrainConfig, WorldModelConfig
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import STRUCT_DIM, featurize
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.graph.state import Action
from aither_wm.models.mesh_model import MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.train import TransitionDataset, fit, load_checkpoint
from aither_wm.train.fit import StepInfo

__all__ = ["nsigma_scores", "run_anomaly_bench", "world_model_scores"]


@torch.inference_mode()
def world_model_scores(
    mesh: MeshWorldModel, graph: ServiceGraph, transitions: list, horizon: int = 8
) -> np.ndarray:
    """Open-loop surprise (``horizon`` steps) of each transition. Shape: [T]."""
    space = ActionSpace(graph, mesh.min_replicas, mesh.max_replicas)
    actions = torch.tensor([space.index(t.action) for t in transitions])  # [T]
    enc = mesh.encode(graph, [t.state for t in transitions])
    a = mesh.world.embed_action(
        enc.services, space.type_ids()[actions], space.target_ids()[actions]
    )  # [T, A]
    z_next = mesh.encode(graph, [t.next_state for t in transitions]).z  # [T, D]
    return open_loop_surprise(mesh.model, enc.z, a, z_next, horizon).numpy()


def nsigma_scores(graph: ServiceGraph, transitions: list, warmup: int) -> np.ndarray:
    """Max |z| over services x raw metrics of each next state, against a running mean/std of the
    steps seen so far (at least ``warmup``); 0 during warm-up. Shape: [T]."""
    x = np.stack(
        [featurize(graph, t.next_state)[0][:, STRUCT_DIM:].numpy() for t in transitions]
    )  # [T, N, M]
    out = np.zeros(len(transitions))
    for t in range(warmup, len(transitions)):
        ref = x[:t]
        mu, sd = ref.mean(0), ref.std(0)
        z = np.abs(x[t] - mu) / np.maximum(sd, 1e-3)
        out[t] = float(z.max())
    return out


@dataclass
class _Tally:
    incidents: int = 0
    detections: int = 0
    fault_episodes: int = 0
    detected_episodes: int = 0
    nominal_steps: int = 0
    false_alarms: int = 0
    leads: list[float] = field(default_factory=list)

    def report(self, step_seconds: float) -> dict[str, Any]:
        return {
            "precision": self.detections / self.incidents if self.incidents else None,
            "recall": self.detected_episodes / self.fault_episodes if self.fault_episodes else None,
            "false_positive_rate": self.false_alarms / self.nominal_steps
            if self.nominal_steps
            else None,
            "false_alarms_per_hour": self.false_alarms / (self.nominal_steps * step_seconds / 3600)
            if self.nominal_steps
            else None,
            "median_lead_steps": statistics.median(self.leads) if self.leads else None,
            "incidents": self.incidents,
            "fault_episodes": self.fault_episodes,
            "nominal_steps": self.nominal_steps,
        }


def _opens(scores: np.ndarray, *, threshold_rule: str, cfg: DetectorConfig) -> list[int]:
    """Steps at which incidents open, under the shared incident logic."""
    if threshold_rule == "surprise":
        det = SurpriseDetector(cfg)
        return [
            t
            for t, s in enumerate(scores)
            if any(e.kind == "open" for e in det.update(float(s)).events)
        ]
    # fixed thresholds on a score that is already a z-score (nsigma) or a 0/1 flag (health check):
    opens, open_, calm, cooldown = [], False, 0, 0
    for t, s in enumerate(scores):
        alarm = s >= cfg.warning_z
        if not open_:
            if cooldown:
                cooldown -= 1
            elif alarm:
                opens.append(t)
                open_, calm = True, 0
        else:
            calm = calm + 1 if s < cfg.clear_z else 0
            if calm >= cfg.clear_steps:
                open_, cooldown = False, cfg.cooldown_steps
    return opens


def run_anomaly_bench(
    graph_path: Path,
    *,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    episodes_per_fault: int = 3,
    nominal_episodes: int = 6,
    steps: int = 100,
    onset_step: int = 45,
    train_steps: int = 400,
    model_config: WorldModelConfig | None = None,
    progress: Callable[[StepInfo], None] | None = None,
) -> dict[str, Any]:
    """Detection quality of the world model's surprise against baselines (see module doc).

    ``model_config`` (default: the default architecture) applies when no ``checkpoint`` is given.
    """
    from aither_wm.sim import MeshSimulator
    from aither_wm.sim.faults import FAULTS
    from aither_wm.sim.scenarios import generate_transitions, run_on_simulator

    graph = load_graph(graph_path)
    if checkpoint is not None:
        model = load_checkpoint(checkpoint).model
    else:
        torch.manual_seed(seed)
        model = WorldModel(model_config)
        data = TransitionDataset.from_transitions(
            generate_transitions(graph, episodes=50, steps=60, seed=seed), {graph.name: graph}
        )
        fit(model, data, TrainConfig(steps=train_steps, seed=seed), progress=progress)
    mesh = MeshWorldModel(model)
    cfg = DetectorConfig(warmup_steps=30)
    sim = MeshSimulator(graph, seed=seed)
    noop = lambda _s, _a: Action.noop()  # noqa: E731
    tallies: dict[str, dict[str, _Tally]] = {
        d: {} for d in ("world_model", "world_model_1step", "nsigma", "health_check")
    }
    plan = [(None, i) for i in range(nominal_episodes)] + [
        (f, i) for f in sorted(FAULTS) for i in range(episodes_per_fault)
    ]
    for k, (fault, _rep) in enumerate(plan):
        ep = run_on_simulator(sim, seed=seed * 1000 + k, fault=fault, steps=steps, policy=noop,
                              onset_step=onset_step if fault else None)  # fmt: skip
        trs = ep.transitions
        health_bad = np.array(
            [any(s.health != "healthy" for s in t.next_state.services.values()) for t in trs]
        )
        slo_bad = np.array([s.violated for s in ep.slo])
        scores = {
            "world_model": ("surprise", world_model_scores(mesh, graph, trs, horizon=8)),
            "world_model_1step": ("surprise", world_model_scores(mesh, graph, trs, horizon=1)),
            "nsigma": ("z", nsigma_scores(graph, trs, warmup=cfg.warmup_steps)),
            "health_check": ("z", health_bad.astype(float) * 1e3),
        }
        onset = onset_step if fault else None
        first_bad = None
        if onset is not None:
            bad = np.flatnonzero((health_bad | slo_bad)[onset:])
            first_bad = onset + int(bad[0]) if bad.size else None
        for det, (rule, sc) in scores.items():
            opens = _opens(sc, threshold_rule=rule, cfg=cfg)
            for key in ("overall", fault or "no_fault"):
                tl = tallies[det].setdefault(key, _Tally())
                tl.incidents += len(opens)
                if onset is None:
                    tl.nominal_steps += steps - cfg.warmup_steps
                    tl.false_alarms += sum(1 for t in opens if t >= cfg.warmup_steps)
                    continue
                tl.nominal_steps += max(0, onset - cfg.warmup_steps)
                tl.false_alarms += sum(1 for t in opens if cfg.warmup_steps <= t < onset)
                tl.fault_episodes += 1
                hits = [t for t in opens if t >= onset]
                if hits:
                    tl.detections += 1
                    tl.detected_episodes += 1
                    if first_bad is not None:
                        tl.leads.append(float(first_bad - hits[0]))
    step_s = sim.config.step_seconds
    out: dict[str, Any] = {
        "graph": graph.name,
        "episodes": len(plan),
        "steps": steps,
        "onset_step": onset_step,
    }
    wm = tallies["world_model"]
    out.update(wm["overall"].report(step_s))
    out["by_fault"] = {k: v.report(step_s) for k, v in sorted(wm.items()) if k != "overall"}
    out["baselines"] = {
        d: {**tallies[d]["overall"].report(step_s),
            "by_fault": {k: v.report(step_s) for k, v in sorted(tallies[d].items()) if k != "overall"}}
        for d in ("world_model_1step", "nsigma", "health_check")
    }  # fmt: skip
    return out


def format_anomaly(result: dict[str, Any]) -> str:
    def f(v: Any) -> str:
        return (
            "-"
            if v is None
            else f"{v:.3g}"
            if isinstance(v, float) and not math.isnan(v)
            else str(v)
        )

    lines = [
        "| detector | fault | precision | recall | false alarms/h | median lead (steps) |",
        "|---|---|---|---|---|---|",
    ]
    dets = {"world_model": result, **result["baselines"]}
    for name, r in dets.items():
        lines.append(
            f"| {name} | overall | {f(r['precision'])} | {f(r['recall'])} | {f(r['false_alarms_per_hour'])} | {f(r['median_lead_steps'])} |"
        )
        for fault, fr in r["by_fault"].items():
            lines.append(
                f"| {name} | {fault} | {f(fr['precision'])} | {f(fr['recall'])} | {f(fr['false_alarms_per_hour'])} | {f(fr['median_lead_steps'])} |"
            )
    return "\n".join(lines)
