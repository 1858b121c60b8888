"""``aither-wm bench telemetry``: learn, detect and localise on real telemetry, two-fold by day.

For each ordered pair of days (train, test): the metric features become standardised rolling
deviations (:mod:`.normalise`, scale fitted on the training day); the world model (JEPA +
SIGReg; every transition a no-op, the telemetry records no remediation) is trained on the
training day's fault-free intervals (at least ``guard_min`` minutes from every injection), the
first ``1 - calib_fraction`` of them; the rest (still the training day) calibrates the detectors.
On the test day:

* ``world_model`` (the headline): violation of expectation per service. Each service's
  counterfactual share of the open-loop surprise (:func:`.signals.service_surprise`) is
  standardised against its own calibration distribution (robust z); an incident opens when the
  largest reaches ``service_z`` (the detector's critical level, 5 sigma: N services are tested
  at once) and the same ranking localises the fault;
* ``world_model_state``: the project's detector (:class:`~aither_wm.anomaly.SurpriseDetector`,
  3-sigma warning on the log of the whole state's open-loop surprise), seeded with calibration;
* ``nsigma``: max |z| of the raw metric features against the training day's fault-free mean
  and std, alarm at 3 (the RCAEval ``nsigma`` idea);
* ``robust_z_localiser``: per service, max over its metric features of |median(5 min after the
  injection) - median(30 min before)| / (1.4826 MAD before).

Nothing is tuned on the test day. With more than two days, each day is tested once, trained on
the day before it (the first on the last).

Glossary: T intervals, N services, F features, D latent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import Field

from aither_wm.anomaly.detector import DetectorConfig, SurpriseDetector
from aither_wm.apps.presets import MEDIUM_MODEL
from aither_wm.bench.telemetry.folds import DayInputs, day_inputs, noop_transitions
from aither_wm.bench.telemetry.normalise import Standardizer
from aither_wm.bench.telemetry.plot import plot_fold
from aither_wm.bench.telemetry.scoring import (
    DETECTORS,
    FaultOutcome,
    Tally,
    incident_opens,
    rank_of,
    threshold_opens,
)
from aither_wm.bench.telemetry.signals import (
    encode_days,
    noop_embedding,
    nsigma_scores,
    robust_z_ranking,
    service_surprise,
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
    rolling_min: float = Field(default=60.0, gt=0)
    """Minutes in the rolling median each interval's metrics are compared with."""
    clip: float = Field(default=5.0, gt=0)
    """Bound of the standardised deviations the model sees."""
    guard_min: float = Field(default=10.0, ge=0)
    """Fault-free = at least this many minutes from every injection (training, false alarms)."""
    window_min: float = Field(default=5.0, gt=0)
    """A detection counts when its incident opens within this many minutes after the injection
    (shorter than the ~8 minutes between injections, so no incident is credited to two faults;
    a one-minute sampling interval shows a fault's effect one to two intervals after it)."""
    calib_fraction: float = Field(default=0.2, gt=0, lt=1)
    """Last fraction of the training day's fault-free intervals kept out of training to
    calibrate the detectors with out-of-sample surprise."""
    service_z: float = Field(default=5.0, gt=0)
    """Robust z of a service's share of the surprise that opens an incident (5 sigma, the
    detector's critical level: every service is tested at each interval)."""
    service_open_steps: int = Field(default=1, ge=1)
    """Consecutive intervals at ``service_z`` needed to open an incident."""
    reference_min: float = Field(default=30.0, gt=0)
    """Minutes before the injection the robust z-score localiser compares with."""
    after_min: float = Field(default=5.0, gt=0)
    """Minutes after the injection the robust z-score localiser looks at."""
    inj_rank_min: float = Field(default=2.0, ge=0)
    """Ranking time for faults not detected: injection + this many minutes."""
    detector: DetectorConfig = DetectorConfig(warmup_steps=30, cooldown_steps=0, clear_steps=2)
    """Incident logic (3-sigma warning, hysteresis; no cooldown, injections come every ~8
    minutes) of the whole-state detector and the n-sigma baseline."""
    model: WorldModelConfig = MEDIUM_MODEL
    """The world model: the medium preset (128-d state embedding, 64-d latent) so both folds
    train in about a minute each on two cores."""


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
    """Train on the first part of the fault-free transitions; returns the model and the
    calibration rows (the rest)."""
    rows = np.flatnonzero(inp.fault_free[:-1] & inp.fault_free[1:])  # t and t + 1 fault-free
    if rows.size < 40:
        raise TelemetryError(
            f"{inp.day.name}: only {rows.size} fault-free transitions to train on (need 40)"
        )
    cut = round(rows.size * (1 - cfg.calib_fraction))
    torch.manual_seed(seed)
    model = WorldModel(cfg.model)
    train_cfg = TrainConfig(
        steps=cfg.train_steps, batch_size=cfg.batch_size, seed=seed, holdout_fraction=0.0
    )
    fit(model, noop_transitions(inp, rows[:cut]), train_cfg, progress=progress)
    model.eval()
    return model, rows[cut:]


@torch.inference_mode()
def _prediction(
    model: WorldModel, z: torch.Tensor, a: torch.Tensor, rows: np.ndarray
) -> dict[str, float | int | None]:
    """One-step latent error against "nothing changes" over transitions ``rows`` (t -> t+1)."""
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


def _robust_z(values: np.ndarray, calib: np.ndarray) -> np.ndarray:
    """Robust z of ``values`` [T, N] against ``calib`` [R, N], per column."""
    med = np.median(calib, 0)
    scale = 1.4826 * np.median(np.abs(calib - med), 0)
    return (values - med) / np.maximum(scale, 1e-12)


def _fold(
    cfg: TelemetryBenchConfig,
    train_raw: DayInputs,
    test_raw: DayInputs,
    seed: int,
    out: Path | None,
    progress: Callable[[StepInfo], None] | None,
) -> tuple[dict[str, Any], Tally, dict[str, Tally]]:
    day = test_raw.day
    step_s = day.step_s
    window = _steps(cfg.window_min, step_s)
    free_train = np.flatnonzero(train_raw.fault_free[:-1] & train_raw.fault_free[1:])
    norm = Standardizer.fit(
        train_raw.x,
        torch.as_tensor(free_train[: round(free_train.size * (1 - cfg.calib_fraction))]),
        window=_steps(cfg.rolling_min, step_s),
        clip=cfg.clip,
    )
    train = replace(train_raw, x=norm.apply(train_raw.x))
    test = replace(test_raw, x=norm.apply(test_raw.x))
    model, calib_rows = _train(cfg, train, seed, progress)
    a = noop_embedding(model, test.x, test.rel)  # [1, A]
    z_train = encode_days(model, train.x, train.rel)  # [T', D]
    z = encode_days(model, test.x, test.rel)  # [T, D]
    T = day.num_steps
    # world_model: per-service violation of expectation, calibrated on the training day
    calib = service_surprise(
        model, train.x, train.rel, z_train, a, calib_rows + 1, horizon=cfg.horizon
    )
    shares = service_surprise(model, test.x, test.rel, z, a, np.arange(T), horizon=cfg.horizon)
    zs = _robust_z(shares, calib)  # [T, N]
    svc_cfg = cfg.detector.model_copy(
        update={"warning_z": cfg.service_z, "clear_z": 0.6 * cfg.service_z,
                "open_steps": cfg.service_open_steps}
    )  # fmt: skip
    opens = {"world_model": threshold_opens(zs.max(1), svc_cfg)}
    # world_model_state: the whole state's open-loop surprise through the project's detector
    det = SurpriseDetector(cfg.detector)
    for v in surprise_series(model, z_train, a, cfg.horizon)[calib_rows]:  # row t-1 scores t
        det.update(float(v))
    opens["world_model_state"] = [
        t + 1 for t in incident_opens(surprise_series(model, z, a, cfg.horizon), det)
    ]
    # nsigma: raw features against the training day's fault-free mean / std
    free_idx = torch.as_tensor(np.flatnonzero(train_raw.fault_free))
    raw_free = train_raw.x[free_idx][..., STRUCT_DIM:].numpy()  # [R, N, M]
    ns = nsigma_scores(test_raw.x.numpy(), raw_free.mean(0), raw_free.std(0))
    opens["nsigma"] = threshold_opens(ns, cfg.detector)
    in_window = np.zeros(T, dtype=bool)
    for b in test.onsets:
        in_window[b : b + window] = True
    tally = Tally(step_s=step_s, fault_free_steps=int(test.fault_free.sum()))
    for name in DETECTORS:
        tally.count_alarms(name, opens[name], in_window, test.fault_free)
    by_kind: dict[str, Tally] = {}
    raw = test_raw.x.numpy()
    services = day.graph.services
    for f, b in zip(day.faults, test.onsets, strict=True):
        target = services.index(f.service)
        first = {
            name: next((t for t in opens[name] if b <= t < b + window), None) for name in DETECTORS
        }
        t_inj2 = min(T - 1, b + _steps(cfg.inj_rank_min, step_s))
        hit = first["world_model"]
        o = FaultOutcome(
            kind=f.kind,
            service=f.service,
            onset=int(b),
            delays={k: (t - b if t is not None else None) for k, t in first.items()},
            rank_model=rank_of(zs[hit if hit is not None else t_inj2], target),
            rank_model_inj2=rank_of(zs[t_inj2], target),
            rank_robust_z=rank_of(
                robust_z_ranking(
                    raw, b, _steps(cfg.reference_min, step_s), _steps(cfg.after_min, step_s)
                ),
                target,
            ),
        )
        tally.outcomes.append(o)
        by_kind.setdefault(f.kind, Tally(step_s=step_s)).outcomes.append(o)
    free_rows = np.flatnonzero(test.fault_free[:-1] & test.fault_free[1:])
    fault_rows = np.flatnonzero(in_window[:-1])
    curve = []
    for zt in (3.0, 5.0, 8.0, 12.0):
        for k in (1, 2):
            op = threshold_opens(
                zs.max(1),
                svc_cfg.model_copy(update={"warning_z": zt, "clear_z": 0.6 * zt, "open_steps": k}),
            )
            hits = sum(1 for b in test.onsets if any(b <= t < b + window for t in op))
            hours = tally.fault_free_steps * step_s / 3600.0
            curve.append({"service_z": zt, "open_steps": k, "recall": hits / max(1, len(test.onsets)),
                          "false_alarms_per_hour": sum(1 for t in op if test.fault_free[t]) / hours if hours else None})  # fmt: skip
    result: dict[str, Any] = {
        "train_day": train.day.name,
        "test_day": day.name,
        "train_transitions": int(free_train.size - calib_rows.size),
        "calibration_transitions": int(calib_rows.size),
        "test_intervals": T,
        **tally.report(),
        "prediction": {
            "fault_free": _prediction(model, z, a, free_rows),
            "during_faults": _prediction(model, z, a, fault_rows),
        },
        "operating_points": curve,
    }
    if out is not None:
        wm = opens["world_model"]
        result["plot"] = plot_fold(
            out / f"telemetry-{day.name}.png",
            day,
            list(test.onsets),
            [o.delays["world_model"] is not None for o in tally.outcomes],
            [t for t in wm if in_window[t]],
            [t for t in wm if test.fault_free[t]],
            f"train {train.day.name} -> test {day.name}: world-model detector",
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
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # one torch thread, as every bench here (deterministic, no oversubscription)
    try:
        return _run(cfg, tel, seed, out_dir, progress, t0)
    finally:
        torch.set_num_threads(threads)


def _run(
    cfg: TelemetryBenchConfig,
    tel: Telemetry,
    seed: int,
    out_dir: Path | None,
    progress: Callable[[StepInfo], None] | None,
    t0: float,
) -> dict[str, Any]:
    inputs = [day_inputs(d, _steps(cfg.guard_min, d.step_s)) for d in tel.days]
    folds: list[dict[str, Any]] = []
    overall: Tally | None = None
    kinds: dict[str, Tally] = {}
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
        "by_fault_type": {k: v.report() for k, v in sorted(kinds.items())},
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
        "| bucket | faults | recall | median delay (min) | precision | false alarms/h | AS@1 | AS@3 | AS@5 "
        "| AS@1 / AS@3, missed = miss | robust-z AS@1 / AS@3 | whole-state recall / FA/h | n-sigma recall / FA/h |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    rows = [("overall", r["overall"])] + [(f"test {f['test_day']}", f) for f in r["folds"]]
    rows += [(k, v) for k, v in r["by_fault_type"].items()]
    for name, b in rows:
        loc, strict = b["localisation"], b["localisation_missed_as_miss"]
        base = b["baselines"]
        rz, ws, ns = base["robust_z_localiser"], base["world_model_state"], base["nsigma"]
        lines.append(
            f"| {name} | {b['faults']} | {_f(b['recall'])} | {_f(b['median_delay_min'])} "
            f"| {_f(b.get('precision'))} | {_f(b.get('false_alarms_per_hour'))} | {_f(loc['as1'])} "
            f"| {_f(loc['as3'])} | {_f(loc['as5'])} | {_f(strict['as1'])} / {_f(strict['as3'])} "
            f"| {_f(rz['as1'])} / {_f(rz['as3'])} "
            f"| {_f(ws['recall'])} / {_f(ws.get('false_alarms_per_hour'))} "
            f"| {_f(ns['recall'])} / {_f(ns.get('false_alarms_per_hour'))} |"
        )
    lines += [
        "",
        "| fold | prediction error / nothing-changes, fault-free | during faults |",
        "|---|---:|---:|",
    ]
    for f in r["folds"]:
        p = f["prediction"]
        lines.append(
            f"| {f['train_day']} -> {f['test_day']} | {_f(p['fault_free']['ratio'])} "
            f"| {_f(p['during_faults']['ratio'])} |"
        )
    lines += [
        "",
        "| fold | service z | open steps | recall | false alarms/h |",
        "|---|---:|---:|---:|---:|",
    ]
    for f in r["folds"]:
        for c in f["operating_points"]:
            lines.append(
                f"| {f['test_day']} | {c['service_z']:g} | {c['open_steps']} | {_f(c['recall'])} "
                f"| {_f(c['false_alarms_per_hour'])} |"
            )
    pub = r["published"]["nezha"]
    lines += [
        "",
        f"Published ({r['published']['source']}): AS@1 {pub['as1']}, AS@3 {pub['as3']}, "
        f"AS@5 {pub['as5']}",
    ]
    return "\n".join(lines)
