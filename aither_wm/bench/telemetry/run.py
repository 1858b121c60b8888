"""``aither-wm bench telemetry``: learn, detect and localise on real telemetry, two-fold by day.

For each ordered pair of days (train, test): the world model (JEPA + SIGReg; every transition a
no-op, the telemetry records no remediation) is trained on the training day's fault-free
intervals (at least ``guard_min`` minutes from every injection), the first ``1 - calib_fraction``
of them; the detector's baseline is seeded with the model's surprise on the rest (still the
training day). On the test day the violation-of-expectation detector runs over the open-loop
surprise, each fault's service is ranked by counterfactual attribution at detection time, and
the baselines run on the same intervals (:mod:`.signals`, :mod:`.scoring`). Nothing is tuned on
the test day. With more than two days, each day is tested once, trained on the day before it
(the first on the last).

Glossary: T intervals, N services, F features, D latent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from aither_wm.anomaly.detector import DetectorConfig, SurpriseDetector
from aither_wm.bench.telemetry.folds import DayInputs, day_inputs, noop_transitions
from aither_wm.bench.telemetry.plot import plot_fold
from aither_wm.bench.telemetry.scoring import (
    FaultOutcome,
    Tally,
    incident_opens,
    rank_of,
    threshold_opens,
)
from aither_wm.bench.telemetry.signals import (
    attribution,
    encode_days,
    noop_embedding,
    nsigma_scores,
    robust_z_ranking,
    surprise_series,
)
from aither_wm.config import FrozenConfig, TrainConfig, WorldModelConfig
from aither_wm.errors import TelemetryError
from aither_wm.graph.features import STRUCT_DIM
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.world_model import WorldModel
from aither_wm.telemetry import Telemetry, read_telemetry
from aither_wm.train import fit
from aither_wm.train.fit import StepInfo

__all__ = [
    "DEFAULT_DATA",
    "PUBLISHED",
    "TelemetryBenchConfig",
    "format_telemetry",
    "run_telemetry_bench",
]

#: The shipped copy of the Nezha OnlineBoutique data (a clone's datasets/ folder).
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "datasets" / "nezha-online-boutique"

#: Published service-level localisation on the same 56 faults (Nezha, FSE 2023, its repository's
#: README): metrics + logs + traces, not metrics alone.
PUBLISHED = {
    "source": "Nezha (FSE 2023), repository README; metrics + logs + traces",
    "nezha": {"as1": 0.929, "as3": 0.964, "as5": 0.964},
}


class TelemetryBenchConfig(FrozenConfig):
    """Settings of the telemetry bench (defaults: the figures in the README)."""

    train_steps: int = Field(default=300, ge=1)
    """World-model training steps per fold."""
    batch_size: int = Field(default=64, ge=4)
    """Transitions per training step."""
    horizon: int = Field(default=4, ge=1)
    """Open-loop surprise horizon, in intervals."""
    guard_min: float = Field(default=10.0, ge=0)
    """Fault-free = at least this many minutes from every injection (training, false alarms)."""
    window_min: float = Field(default=5.0, gt=0)
    """A detection counts when its incident opens within this many minutes after the injection
    (shorter than the ~8 minutes between injections, so no incident is credited to two faults)."""
    calib_fraction: float = Field(default=0.2, gt=0, lt=1)
    """Last fraction of the training day's fault-free intervals kept out of training to seed the
    detector's baseline with out-of-sample surprise."""
    reference_min: float = Field(default=30.0, gt=0)
    """Minutes before the anomaly whose median is each service's "nothing went wrong" reference
    (attribution) and the robust z-score's baseline window."""
    after_min: float = Field(default=5.0, gt=0)
    """Minutes after the injection the robust z-score localiser looks at."""
    inj_rank_min: float = Field(default=2.0, ge=0)
    """Attribution time for faults not detected: injection + this many minutes."""
    detector: DetectorConfig = DetectorConfig(warmup_steps=30, cooldown_steps=0, clear_steps=2)
    """The violation-of-expectation detector (3-sigma warning, 5-sigma critical); no cooldown,
    since injections come every ~8 minutes."""
    model: WorldModelConfig = WorldModelConfig()
    """The world model (the library default: 768-d embedding, 256-d latent)."""


def _steps(minutes: float, step_s: float) -> int:
    return max(1, round(minutes * 60.0 / step_s))


def _pairs(tel: Telemetry) -> list[tuple[int, int]]:
    n = len(tel.days)
    if n < 2:
        raise TelemetryError(
            f"{tel.name}: the bench needs two days or more (found {n}): one to train, one to test"
        )
    return [(i - 1 if i else n - 1, i) for i in range(n)] if n > 2 else [(0, 1), (1, 0)]


def _train(
    cfg: TelemetryBenchConfig,
    inp: DayInputs,
    seed: int,
    progress: Callable[[StepInfo], None] | None,
) -> tuple[WorldModel, np.ndarray]:
    T = inp.day.num_steps
    rows = np.flatnonzero(inp.fault_free[:-1] & inp.fault_free[1:])  # t and t + 1 fault-free
    if rows.size < 20:
        raise TelemetryError(
            f"{inp.day.name}: only {rows.size} fault-free transitions to train on (need 20)"
        )
    cut = int(round(rows.size * (1 - cfg.calib_fraction)))
    torch.manual_seed(seed)
    model = WorldModel(cfg.model)
    fit(
        model,
        noop_transitions(inp, rows[:cut]),
        TrainConfig(
            steps=cfg.train_steps, batch_size=cfg.batch_size, seed=seed, holdout_fraction=0.0
        ),
        progress=progress,
    )
    model.eval()
    assert T > 1
    return model, rows[cut:]


@torch.inference_mode()
def _prediction(
    model: WorldModel, z: torch.Tensor, a: torch.Tensor, rows: np.ndarray
) -> dict[str, float | int | None]:
    if rows.size == 0:
        return {"n": 0, "pred_mse": None, "copy_mse": None, "ratio": None}
    idx = torch.as_tensor(rows)
    zh = model.predict(z[idx], a.expand(len(rows), -1))  # [B, D]
    pred = float((zh - z[idx + 1]).pow(2).mean())
    copy = float((z[idx] - z[idx + 1]).pow(2).mean())
    return {
        "n": int(rows.size),
        "pred_mse": pred,
        "copy_mse": copy,
        "ratio": pred / max(copy, 1e-12),
    }


def _fold(
    cfg: TelemetryBenchConfig,
    train: DayInputs,
    test: DayInputs,
    seed: int,
    out: Path | None,
    progress: Callable[[StepInfo], None] | None,
) -> tuple[dict[str, Any], Tally, dict[str, Tally]]:
    day = test.day
    step_s = day.step_s
    window = _steps(cfg.window_min, step_s)
    ref_steps = _steps(cfg.reference_min, step_s)
    model, calib_rows = _train(cfg, train, seed, progress)
    a = noop_embedding(model, test.x, test.rel)  # [1, A]
    z_train = encode_days(model, train.x, train.rel)  # [T', D]
    calib = surprise_series(model, z_train, a, cfg.horizon)[calib_rows]  # row t-1 scores t
    det = SurpriseDetector(cfg.detector)
    for s in calib:
        det.update(float(s))
    z = encode_days(model, test.x, test.rel)  # [T, D]
    scores = surprise_series(model, z, a, cfg.horizon)  # [T - 1]: interval t at row t - 1
    opens = [t + 1 for t in incident_opens(scores, det)]
    # the n-sigma baseline: training day's fault-free mean / std, same incident logic
    free_train = train.x[torch.as_tensor(np.flatnonzero(train.fault_free))][
        ..., STRUCT_DIM:
    ].numpy()
    ns = nsigma_scores(test.x.numpy(), free_train.mean(0), free_train.std(0))
    ns_opens = threshold_opens(ns, cfg.detector)
    T = day.num_steps
    in_window = np.zeros(T, dtype=bool)
    for b in test.onsets:
        in_window[b : b + window] = True
    tally = Tally(step_s=step_s)
    tally.fault_free_steps = int(test.fault_free.sum())
    for opens_, pre in ((opens, ""), (ns_opens, "nsigma_")):
        k = "incidents" if not pre else "nsigma_incidents"
        setattr(tally, k, len(opens_))
        setattr(
            tally,
            "true_alarms" if not pre else "nsigma_true",
            sum(1 for t in opens_ if in_window[t]),
        )
        setattr(
            tally,
            "false_alarms" if not pre else "nsigma_false",
            sum(1 for t in opens_ if test.fault_free[t]),
        )
    by_kind: dict[str, Tally] = {}
    xs = test.x.numpy()
    services = day.graph.services
    detected_flags, detections = [], []
    for f, b in zip(day.faults, test.onsets, strict=True):
        target = services.index(f.service)
        hits = [t for t in opens if b <= t < b + window]
        t_inj2 = min(T - 1, b + _steps(cfg.inj_rank_min, step_s))
        att = lambda t: attribution(
            model, test.x, test.rel, z, a, t, horizon=cfg.horizon, reference_steps=ref_steps
        )
        r_inj2 = rank_of(att(t_inj2), target)
        r_det = rank_of(att(hits[0]), target) if hits else r_inj2
        rz = robust_z_ranking(xs, b, ref_steps, _steps(cfg.after_min, step_s))
        o = FaultOutcome(
            kind=f.kind,
            service=f.service,
            onset=int(b),
            delay_steps=(hits[0] - b) if hits else None,
            rank_model=r_det,
            rank_model_inj2=r_inj2,
            rank_robust_z=rank_of(rz, target),
            detected_nsigma=any(b <= t < b + window for t in ns_opens),
        )
        tally.outcomes.append(o)
        by_kind.setdefault(f.kind, Tally(step_s=step_s)).outcomes.append(o)
        detected_flags.append(bool(hits))
        if hits:
            detections.append(hits[0])
    free_rows = np.flatnonzero(test.fault_free[:-1] & test.fault_free[1:])
    fault_rows = np.flatnonzero(in_window[:-1])
    name = f"train {train.day.name} -> test {day.name}"
    result: dict[str, Any] = {
        "train_day": train.day.name,
        "test_day": day.name,
        "train_transitions": int(
            np.flatnonzero(train.fault_free[:-1] & train.fault_free[1:]).size - calib_rows.size
        ),
        "test_intervals": T,
        **tally.report(),
        "prediction": {
            "fault_free": _prediction(model, z, a, free_rows),
            "during_faults": _prediction(model, z, a, fault_rows),
        },
    }
    if out is not None:
        fa = [t for t in opens if test.fault_free[t]]
        result["plot"] = plot_fold(
            out / f"telemetry-{day.name}.png",
            day,
            list(test.onsets),
            detected_flags,
            detections,
            fa,
            name,
        )
    return result, tally, by_kind


def run_telemetry_bench(
    data: str | Path | None = None,
    *,
    seed: int = 0,
    config: TelemetryBenchConfig | None = None,
    graph: ServiceGraph | None = None,
    out: str | Path | None = None,
    progress: Callable[[StepInfo], None] | None = None,
) -> dict[str, Any]:
    """The bench (see module doc); writes one plot per fold into ``out`` when given."""
    t0 = time.perf_counter()
    cfg = config or TelemetryBenchConfig()
    tel = read_telemetry(data if data is not None else DEFAULT_DATA, graph=graph)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    inputs = [day_inputs(d, _steps(cfg.guard_min, d.step_s)) for d in tel.days]
    folds, overall, kinds = [], None, {}
    for i, j in _pairs(tel):
        res, tally, by_kind = _fold(cfg, inputs[i], inputs[j], seed, out_dir, progress)
        folds.append(res)
        if overall is None:
            overall = tally
        else:
            overall.add(tally)
        for k, v in by_kind.items():
            kinds.setdefault(k, Tally(step_s=v.step_s)).add(v)
    assert overall is not None
    pred = {
        key: {
            "ratio_mean_over_folds": float(
                np.mean(
                    [
                        f["prediction"][key]["ratio"]
                        for f in folds
                        if f["prediction"][key]["ratio"] is not None
                    ]
                )
            )
        }
        for key in ("fault_free", "during_faults")
    }
    return {
        "data": tel.name,
        "services": len(tel.graph.services),
        "edges": tel.graph.digraph.number_of_edges(),
        "days": [d.name for d in tel.days],
        "faults": sum(len(d.faults) for d in tel.days),
        "seed": seed,
        "config": cfg.model_dump(mode="json", exclude={"model"}),
        "window_min": cfg.window_min,
        "overall": {**overall.report(), "prediction": pred},
        "by_fault_type": {k: v.report(with_alarms=False) for k, v in sorted(kinds.items())},
        "folds": folds,
        "published": PUBLISHED,
        "read_report": {"summary": tel.report.summary(), "notes": tel.report.to_json()},
        "wall_s": time.perf_counter() - t0,
    }


def _f(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def format_telemetry(r: dict[str, Any]) -> str:
    """The bench result as markdown tables."""
    lines = [
        f"{r['data']}: {r['services']} services, {r['edges']} edges, days {', '.join(r['days'])}, "
        f"{r['faults']} faults; detection window {r['window_min']:g} min; wall {r['wall_s']:.0f} s",
        "",
        "| bucket | faults | recall | median delay min | precision | false alarms/h | AS@1 | AS@3 | AS@5 | AS@1/3 missed=miss | robust-z AS@1/3 | n-sigma recall | n-sigma FA/h |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
    ]
    rows = [("overall", r["overall"])] + [(f"fold {f['test_day']}", f) for f in r["folds"]]
    rows += [(k, v) for k, v in r["by_fault_type"].items()]
    for name, b in rows:
        loc, strict, rz = (
            b["localisation"],
            b["localisation_missed_as_miss"],
            b["baseline_robust_z"],
        )
        lines.append(
            f"| {name} | {b['faults']} | {_f(b['recall'])} | {_f(b['median_delay_min'])} | {_f(b.get('precision'))} "
            f"| {_f(b.get('false_alarms_per_hour'))} | {_f(loc['as1'])} | {_f(loc['as3'])} | {_f(loc['as5'])} "
            f"| {_f(strict['as1'])} / {_f(strict['as3'])} | {_f(rz['as1'])} / {_f(rz['as3'])} "
            f"| {_f(b['baseline_nsigma_recall'])} | {_f(b.get('baseline_nsigma_false_alarms_per_hour'))} |"
        )
    lines += [
        "",
        "| fold | prediction / nothing-changes, fault-free | during faults |",
        "|---|---:|---:|",
    ]
    for f in r["folds"]:
        p = f["prediction"]
        lines.append(
            f"| {f['train_day']} -> {f['test_day']} | {_f(p['fault_free']['ratio'])} | {_f(p['during_faults']['ratio'])} |"
        )
    pub = r["published"]["nezha"]
    lines += [
        "",
        f"Published ({r['published']['source']}): AS@1 {pub['as1']}, AS@3 {pub['as3']}, AS@5 {pub['as5']}",
    ]
    return "\n".join(lines)
