"""``aither-wm demo``: the main job, end to end on embedded local Ray.

1. simulate the topology with faults (the simulator's behaviour policy) -> transitions;
2. train the world model on the trainer actor (progress polled from its ``control`` group),
   which checkpoints atomically and publishes version 1;
3. the CEM and MCTS planner actors pull version 1;
4. run autoheal episodes: the same injected fault, the same seeds, under four controllers:
   ``cem`` and ``mcts`` (the controller asks both planners every step, acts on that one's plan),
   ``autoheal`` (the controller picks the lower predicted cost) and ``baseline`` (the reactive
   runbook); every one passes through the same safety guard (acting, not dry-run);
5. report SLO-violation minutes, actions taken, planner latency p50/p95 and agreement between
   the planners; with ``out_dir``: report.md, report.json, PNG plots, the audit log and the
   checkpoint.

The quick run (``quick=True``) is sized for under a minute on 2 CPU cores. The embedded Ray
declares at least 3 logical CPUs: the trainer (1) is idle while the two planners (1 each) run.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray

from aither_wm.config import (
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.control.audit import AuditLog
from aither_wm.control.controller import (
    AutohealController,
    ControlDecision,
    ControllerConfig,
    PickPolicy,
)
from aither_wm.control.guard import GuardConfig
from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.episodes import Scenario, SlotExecutor, controller_policy, guarded_policy, play
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.runtime.host import RuntimeConfig
from aither_wm.runtime.plugin import AitherPlugin, PlannerSpec, PluginConfig

__all__ = ["DEFAULT_GRAPH", "FULL", "QUICK", "DemoSettings", "run_demo"]

DEFAULT_GRAPH = "graphs/online-boutique.json"
MODES = ("cem", "mcts", "autoheal", "baseline")
_PICKS: dict[str, PickPolicy] = {
    "cem": "prefer_cem",
    "mcts": "prefer_mcts",
    "autoheal": "lowest_cost",
}


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo run."""

    data_episodes: int
    data_steps: int
    model: WorldModelConfig
    train: TrainConfig
    cem: dict[str, Any]
    mcts: dict[str, Any]
    faults: tuple[str, ...]
    episode_steps: int
    onset_step: int = 3
    deadline_ms: float = 2000.0
    guard: GuardConfig = field(
        default_factory=lambda: GuardConfig(
            dry_run=False,
            cooldown_steps=3,
            window_steps=10,
            max_actions_per_window=4,
            max_service_fraction=0.3,
        )
    )


_SMALL = WorldModelConfig(
    encoder=EncoderConfig(d_model=32, num_layers=2, num_heads=4, embed_dim=64),
    projector=ProjectorConfig(hidden_dim=128, latent_dim=32),
    # GELU: the figures in README/docs for this configuration were measured with it
    predictor=PredictorConfig(hidden_dim=128, num_blocks=2, action_dim=32, activation="gelu"),
)
_MEDIUM = WorldModelConfig(
    encoder=EncoderConfig(d_model=64, num_layers=2, num_heads=4, embed_dim=128),
    projector=ProjectorConfig(hidden_dim=256, latent_dim=64),
    # GELU: the figures in README/docs for this configuration were measured with it
    predictor=PredictorConfig(hidden_dim=256, num_blocks=2, action_dim=64, activation="gelu"),
)

QUICK = DemoSettings(
    data_episodes=16,
    data_steps=60,
    model=_SMALL,
    train=TrainConfig(steps=150, batch_size=32, num_slices=64, warmup_steps=15, lr=2e-3),
    cem={"num_samples": 128, "num_elites": 16, "iterations": 2},
    mcts={"num_simulations": 64, "top_m": 12},
    faults=("memory_leak", "bad_deploy", "pod_kill"),
    episode_steps=20,
)
FULL = DemoSettings(
    data_episodes=60,
    data_steps=60,
    model=_MEDIUM,
    train=TrainConfig(steps=600, batch_size=48, num_slices=128, warmup_steps=30, lr=2e-3),
    cem={},
    mcts={},
    faults=("memory_leak", "bad_deploy", "pod_kill", "cpu_saturation", "cache_down", "retry_storm"),
    episode_steps=36,
)


Progress = Callable[[str, dict[str, Any]], None]


class _Bars:
    """Progress on stderr: tqdm bars when ``enabled``; a callable receives (phase, info)."""

    def __init__(self, progress: bool | Progress) -> None:
        self.callback = progress if callable(progress) else None
        self.enabled = progress is True
        self._bars: dict[str, Any] = {}

    def note(self, phase: str, **info: Any) -> None:
        if self.callback is not None:
            self.callback(phase, info)
        elif self.enabled:
            print(
                f"[demo] {phase}: " + ", ".join(f"{k}={v}" for k, v in info.items()),
                file=sys.stderr,
                flush=True,
            )

    def bar(self, name: str, total: int, n: int) -> None:
        if self.callback is not None:
            self.callback(name, {"n": n, "total": total})
            return
        if not self.enabled:
            return
        from tqdm import tqdm

        b = self._bars.get(name)
        if b is None:
            b = self._bars[name] = tqdm(
                total=total, desc=name, file=sys.stderr, leave=False, dynamic_ncols=True
            )
        b.update(max(0, n - b.n))

    def close(self) -> None:
        for b in self._bars.values():
            b.close()
        self._bars.clear()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _round(x: Any, nd: int = 3) -> Any:
    return round(x, nd) if isinstance(x, float) else x


def run_demo(
    out_dir: Path | str | None = None,
    *,
    quick: bool = False,
    graph_path: Path | str | None = None,
    seed: int = 0,
    progress: bool | Progress = False,
    runtime: RuntimeConfig | None = None,
    settings: DemoSettings | None = None,
) -> dict[str, Any]:
    """Run the demo (see the module docstring) and return the report as a dict.

    Args:
        out_dir: folder for report.md, report.json, plots, audit log, checkpoint (None: nothing
            is written but a temporary checkpoint).
        quick: the small run (under a minute on 2 cores).
        graph_path: the topology (default ``graphs/online-boutique.json``).
        seed: fixes the data, the model's initialisation, the faults and the planners' seeds.
        progress: True for bars and phase lines on stderr, or a callable ``(phase, info)``.
        runtime: Ray settings (default: embedded, at least 3 logical CPUs, 200 MB object store).
        settings: sizes (default QUICK or FULL).
    """
    from aither_wm.sim import MeshSimulator
    from aither_wm.sim.scenarios import episode_seeds, generate_transitions
    from aither_wm.sim.slo import score_episode

    started = time.perf_counter()
    timings: dict[str, float] = {}
    s = settings or (QUICK if quick else FULL)
    graph = load_graph(graph_path or DEFAULT_GRAPH)
    bars = _Bars(progress)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    # The trainer's own checkpoint (its restart point) lives where the trainer runs; the demo's
    # output checkpoint is written here, from the published weights, wherever the trainer ran.
    tmp = tempfile.TemporaryDirectory(prefix="aither-demo-")
    ckpt = Path(tmp.name) / "trainer.pt"

    # 1. data -----------------------------------------------------------------------------------
    t = time.perf_counter()
    transitions = []
    for i, tr in enumerate(
        generate_transitions(graph, episodes=s.data_episodes, steps=s.data_steps, seed=seed)
    ):
        transitions.append(tr)
        if i % 200 == 0:
            bars.bar("simulate", s.data_episodes * s.data_steps, i + 1)
    bars.bar("simulate", len(transitions), len(transitions))
    timings["simulate_s"] = time.perf_counter() - t

    rt = runtime or RuntimeConfig(
        num_cpus=max(3, os.cpu_count() or 1), object_store_mb=200, namespace="aither_wm_demo"
    )
    cfg = PluginConfig(
        graph=str(graph.source),
        runtime=rt,
        model=s.model,
        train=s.train.model_copy(update={"seed": seed}),
        checkpoint=str(ckpt),
        trainer_transitions_log=None,
        planners={
            "cem": PlannerSpec(kind="cem", config=s.cem),
            "mcts": PlannerSpec(kind="mcts", config=s.mcts),
        },
        poll_interval_s=None,
    )
    plugin = AitherPlugin(cfg, graph=graph)
    audit = AuditLog(out / "audit.jsonl") if out is not None else None
    try:
        # 2. Ray, actors, training --------------------------------------------------------------
        t = time.perf_counter()
        host_info = plugin.setup()
        plugin.start()
        timings["ray_start_s"] = time.perf_counter() - t
        bars.note("ray", **{k: host_info[k] for k in ("mode", "cpus", "object_store_mb")})
        t = time.perf_counter()
        ray.get(plugin.trainer.ingest.remote(transitions), timeout=300)
        train_ref = plugin.trainer.train.remote()
        while not ray.wait([train_ref], timeout=0.25)[0]:
            p = ray.get(plugin.trainer.progress.remote(), timeout=30)
            if p.get("total"):
                bars.bar("train", int(p["total"]), int(p["step"]))
        training = ray.get(train_ref)
        bars.bar("train", training["steps"], training["steps"])
        timings["train_s"] = time.perf_counter() - t
        versions = plugin.sync_weights(timeout_s=120)
        bars.note("weights", **versions)
        if out is not None:
            _save_published(plugin, s.model, out / "world_model.pt", training, graph)

        # 3. episodes ---------------------------------------------------------------------------
        t = time.perf_counter()
        dispatcher = plugin.dispatcher()
        slots = {mode: SlotExecutor() for mode in ("cem", "mcts", "autoheal")}
        controllers = {
            mode: AutohealController(
                graph,
                dispatcher,
                slots[mode],
                audit=audit,
                config=ControllerConfig(
                    pick=_PICKS[mode],
                    deadline_ms=s.deadline_ms,
                    guard=s.guard,
                    seed=seed,
                    min_weights_version=1,
                ),
            )
            for mode in ("cem", "mcts", "autoheal")
        }
        mesh_seed, _, ep_seeds = episode_seeds(seed, len(s.faults))
        results: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
        decisions: dict[str, list[ControlDecision]] = {m: [] for m in MODES}
        total = len(MODES) * len(s.faults)
        done = 0
        for e, fault in enumerate(s.faults):
            for mode in MODES:
                sim = MeshSimulator(graph, seed=mesh_seed)
                if mode == "baseline":
                    policy = guarded_policy(ReactivePolicy(), graph, s.guard, sim)
                else:
                    ctl = controllers[mode]
                    ctl.reset_episode()
                    policy = controller_policy(ctl, slots[mode], sim, decisions[mode])
                scenario = Scenario(fault, ep_seeds[e], mesh_seed, s.episode_steps, s.onset_step)
                ep = play(sim, scenario, policy)
                score = score_episode(
                    ep.slo,
                    step_seconds=sim.config.step_seconds,
                    effects=ep.effects,
                    onset_step=ep.onset_step,
                )
                target = ep.fault.target if ep.fault is not None else None
                results[mode].append({"fault": fault, "target": target, **score})
                done += 1
                bars.bar("episodes", total, done)
        timings["episodes_s"] = time.perf_counter() - t
    finally:
        bars.close()
        if audit is not None:
            audit.close()
        plugin.stop()
        tmp.cleanup()

    report = _report(
        graph,
        s,
        quick=quick,
        seed=seed,
        training=training,
        results=results,
        decisions=decisions,
        host=host_info,
        versions=versions,
        timings=timings,
    )
    report["wall_s"] = round(time.perf_counter() - started, 2)
    if out is not None:
        report["files"] = _write(out, report, training)
    report["summary_text"] = _summary_text(report)
    return {k: v for k, v in report.items() if not k.startswith("_")}


def _save_published(
    plugin: AitherPlugin,
    model: WorldModelConfig,
    path: Path,
    training: dict[str, Any],
    graph: ServiceGraph,
) -> None:
    """Write the trainer's published weights as an atomic checkpoint on this machine."""
    from aither_wm.models import WorldModel
    from aither_wm.train import save_checkpoint

    version, (ref,) = ray.get(plugin.trainer.latest.remote(), timeout=60)
    wm = WorldModel(model)
    wm.load_state_dict(ray.get(ref, timeout=120))
    meta = {
        "transitions": training["transitions"],
        "steps": training["steps"],
        "graphs": [graph.name],
    }
    save_checkpoint(wm, path, version=version, meta=meta)


def _mode_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    mitigated = [r["time_to_mitigate_s"] for r in rows if r["time_to_mitigate_s"] is not None]
    return {
        "episodes": len(rows),
        "slo_violation_minutes": round(sum(r["slo_violation_minutes"] for r in rows), 3),
        "slo_violation_minutes_per_episode": round(
            statistics.fmean(r["slo_violation_minutes"] for r in rows), 3
        ),
        "mean_availability": round(statistics.fmean(r["mean_availability"] for r in rows), 5),
        "actions": sum(r["actions"] for r in rows),
        "wrong_actions": sum(r["wrong_actions"] for r in rows),
        "harmful_actions": sum(r["harmful_actions"] for r in rows),
        "mitigated": len(mitigated),
        "mean_time_to_mitigate_s": round(statistics.fmean(mitigated), 1) if mitigated else None,
        "per_episode": [{k: _round(v) for k, v in r.items()} for r in rows],
    }


def _report(
    graph: ServiceGraph,
    s: DemoSettings,
    *,
    quick: bool,
    seed: int,
    training: dict[str, Any],
    results: dict[str, list[dict[str, Any]]],
    decisions: dict[str, list[ControlDecision]],
    host: dict[str, Any],
    versions: dict[str, Any],
    timings: dict[str, float],
) -> dict[str, Any]:
    every = [d for m in ("cem", "mcts", "autoheal") for d in decisions[m]]
    both = [d for d in every if d.agreement is not None]
    acting = [
        d
        for d in both
        if any(o.reply is not None and o.reply.first_action != 0 for o in d.outcomes.values())
    ]
    agreement = {
        "decisions": len(every),
        "both_answered": len(both),
        "first_action_agreement": round(sum(bool(d.agreement) for d in both) / len(both), 4)
        if both
        else None,
        "agreement_when_either_acts": round(sum(bool(d.agreement) for d in acting) / len(acting), 4)
        if acting
        else None,
        "either_acts": len(acting),
    }
    latency = [d.latency_ms for d in every]
    planners: dict[str, Any] = {}
    for name in ("cem", "mcts"):
        outs = [d.outcomes[name] for d in every if name in d.outcomes]
        rtt = [o.round_trip_ms for o in outs if o.status == "ok" and o.round_trip_ms is not None]
        search = [o.reply.search_ms for o in outs if o.reply is not None]
        mine = decisions[name]
        planners[name] = {
            **_mode_summary(results[name]),
            "latency_ms": {
                "p50": _round(_pct(rtt, 0.5), 2),
                "p95": _round(_pct(rtt, 0.95), 2),
                "search_p50": _round(_pct(search, 0.5), 2),
                "n": len(rtt),
            },
            "statuses": {
                st: sum(o.status == st for o in outs) for st in ("ok", "error", "timeout", "busy")
            },
            "chosen_in_own_mode": sum(d.chosen == name for d in mine),
            "fallbacks_in_own_mode": sum(d.chosen == "fallback" for d in mine),
            "guard_refusals_in_own_mode": sum(not d.verdict.allowed for d in mine),
            "chosen_by_autoheal": sum(d.chosen == name for d in decisions["autoheal"]),
            "agreement": agreement["first_action_agreement"],
            "weights_version": versions.get(name),
        }
    auto = decisions["autoheal"]
    return {
        "graph": graph.name,
        "services": graph.num_services,
        "quick": quick,
        "seed": seed,
        "ray": host,
        "training": {k: v for k, v in training.items() if k != "history"},
        "planners": planners,
        "autoheal": {
            **_mode_summary(results["autoheal"]),
            "fallbacks": sum(d.chosen == "fallback" for d in auto),
            "guard_refusals": sum(not d.verdict.allowed for d in auto),
        },
        "baseline": {"policy": "reactive", **_mode_summary(results["baseline"])},
        "agreement": agreement,
        "decision_latency_ms": {
            "p50": _round(_pct(latency, 0.5), 2),
            "p95": _round(_pct(latency, 0.95), 2),
        },
        "settings": {
            "faults": list(s.faults),
            "episode_steps": s.episode_steps,
            "onset_step": s.onset_step,
            "transitions": training.get("transitions"),
            "train_steps": s.train.steps,
            "guard": s.guard.model_dump(),
            "cem": s.cem,
            "mcts": s.mcts,
        },
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "_loss_history": training.get("history", []),
        "_latencies": {
            n: [
                o.round_trip_ms
                for d in every
                for m, o in d.outcomes.items()
                if m == n and o.status == "ok" and o.round_trip_ms is not None
            ]
            for n in ("cem", "mcts")
        },
    }


def _summary_text(r: dict[str, Any]) -> str:
    pl, tr, a = r["planners"], r["training"], r["agreement"]
    rows = [("cem", pl["cem"]), ("mcts", pl["mcts"]), ("autoheal", r["autoheal"]),
            ("baseline", r["baseline"])]  # fmt: skip
    kind = "quick" if r["quick"] else "full"
    head = f"{'controller':<10} {'SLO-viol. min':>13} {'mitigated':>9} {'actions':>7}"
    lines = [
        f"aither-wm demo on {r['graph']} ({r['services']} services), {kind}, seed {r['seed']}: "
        f"{r['wall_s']} s",
        f"training: {tr['steps']} steps on {tr['transitions']} transitions in {tr['seconds']} s "
        f"(version {tr['version']})",
        "",
        f"{head} {'wrong':>5} {'harmful':>7}",
    ]
    for name, m in rows:
        lines.append(
            f"{name:<10} {m['slo_violation_minutes']:>13.2f} "
            f"{m['mitigated']:>6}/{m['episodes']:<2} {m['actions']:>7} "
            f"{m['wrong_actions']:>5} {m['harmful_actions']:>7}"
        )
    lat = {n: pl[n]["latency_ms"] for n in ("cem", "mcts")}
    dec = r["decision_latency_ms"]
    lines += [
        "",
        f"planner latency (round trip): cem p50 {lat['cem']['p50']} ms / p95 "
        f"{lat['cem']['p95']} ms; mcts p50 {lat['mcts']['p50']} ms / p95 {lat['mcts']['p95']} ms",
        f"controller decision (both planners): p50 {dec['p50']} ms, p95 {dec['p95']} ms",
        f"agreement on the first action: {a['first_action_agreement']} over {a['both_answered']} "
        f"decisions ({a['agreement_when_either_acts']} when either acts)",
    ]
    if r.get("files"):
        lines.append(f"written: {', '.join(sorted(r['files']))} in {r['files'].get('dir')}")
    return "\n".join(lines)


def _write(out: Path, report: dict[str, Any], training: dict[str, Any]) -> dict[str, str]:
    files = {"dir": str(out)}
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    (out / "report.json").write_text(
        json.dumps(public, indent=2, default=str) + "\n", encoding="utf-8"
    )
    files["report.json"] = "report.json"
    files.update(_plots(out, report))
    public["files"] = files
    text = _summary_text({**public, "files": None})
    md = [
        "# aither-wm demo",
        "",
        "```",
        text,
        "```",
        "",
        "Per episode (SLO-violation minutes / actions):",
        "",
        "| fault | target | cem | mcts | autoheal | baseline |",
        "|---|---|---|---|---|---|",
    ]
    per = {
        m: (report["planners"][m] if m in ("cem", "mcts") else report[m])["per_episode"]
        for m in MODES
    }
    for i, row in enumerate(per["cem"]):
        cells = [
            f"{per[m][i]['slo_violation_minutes']:.2f} / {per[m][i]['actions']}" for m in MODES
        ]
        md.append(f"| {row['fault']} | {row['target']} | " + " | ".join(cells) + " |")
    md += ["", *[f"![{p}]({p})" for p in sorted(files) if p.endswith(".png")], ""]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    files["report.md"] = "report.md"
    if (out / "world_model.pt").is_file():
        files["checkpoint"] = "world_model.pt"
    if (out / "audit.jsonl").is_file():
        files["audit"] = "audit.jsonl"
    return files


def _plots(out: Path, report: dict[str, Any]) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    per = {
        m: (report["planners"][m] if m in ("cem", "mcts") else report[m])["per_episode"]
        for m in MODES
    }
    faults = [r["fault"] for r in per["cem"]]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(MODES)
    for j, m in enumerate(MODES):
        xs = [i + (j - (len(MODES) - 1) / 2) * width for i in range(len(faults))]
        ax.bar(xs, [r["slo_violation_minutes"] for r in per[m]], width, label=m)
    ax.set_xticks(range(len(faults)), faults, rotation=15)
    ax.set_ylabel("SLO-violation minutes")
    ax.set_title("SLO violation per injected fault")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "slo_minutes.png", dpi=110)
    plt.close(fig)
    files["slo_minutes.png"] = "slo_minutes.png"

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in report["_latencies"].items():
        if values:
            s = sorted(values)
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=name)
    ax.set_xlabel("plan round trip through the actor, ms")
    ax.set_ylabel("fraction of decisions")
    ax.set_title("planner latency (CDF)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "planner_latency.png", dpi=110)
    plt.close(fig)
    files["planner_latency.png"] = "planner_latency.png"

    hist = report["_loss_history"]
    if hist:
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(range(1, len(hist) + 1), hist)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (pred + lambda * SIGReg)")
        ax.set_title("world model training")
        fig.tight_layout()
        fig.savefig(out / "training_loss.png", dpi=110)
        plt.close(fig)
        files["training_loss.png"] = "training_loss.png"
    return files
