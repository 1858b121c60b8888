"""``aither-wm bench autoheal``: does it heal? Every policy on the same fault scenarios.

1. data: labelled simulator episodes on the graph (every fault type and fault-free, a
   remedy-rich behaviour policy, many meshes), seeds disjoint from the evaluation's;
2. the planning model: the control model (:mod:`aither_wm.bench.control_model`: windows plus
   counterfactual branches, service tokens, cost and value heads, calibrated deviation
   thresholds), planned by CEM and MCTS through the autoheal controller in-process, anchored
   on the runbook (rows ``cem_control``, ``mcts_control``);
3. the scenarios: every fault type plus fault-free episodes, ``episodes`` each, for each of
   ``seeds`` replicates (each its own mesh), replayed under noop, random, reactive, the
   planners, ``ppo`` (MaskablePPO, the model-free peer, :mod:`aither_wm.eval.ppo`), the
   oracle (MPC on the true simulator, told which services the fault acts on) and
   ``oracle_observed`` (the same MPC choosing among actions on the services that look broken
   and their callees: no privileged candidates);
4. metrics per policy and per fault type with 95 % intervals over the replicates
   (:mod:`aither_wm.eval.summary`), the paired difference to reactive, a verdict;
5. held-out generalisation: unseen fault intensities (same model), and a control model
   trained on the other shipped topologies (the same data budget, shared among them)
   planning on this one;
6. the one-step world model's seen/unseen fault-type table (``bench.worldmodel``) and the
   collapse ablation (``bench.ablation``) on simulator data; with ``legacy``, also the rows of
   the world model before the control model (health objective, :class:`_Legacy`) and their
   quality tables (:mod:`aither_wm.eval.quality`);
7. with ``out_dir``: report.json, report.md and PNG plots.

Everything is seeded; planners run without deadlines (budget-limited, not time-limited), so the
same seed gives the same numbers on any machine. Torch runs on one thread.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from aither_wm.apps.presets import SMALL_MODEL
from aither_wm.bench.control_model import (
    FULL_RECIPE,
    QUICK_RECIPE,
    ControlRecipe,
    control_policies,
    train_control,
)
from aither_wm.config import (
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.control.planners import PlannerService
from aither_wm.eval.data import ExplorePolicy, LabelledEpisode, collect, training_scenarios
from aither_wm.eval.episodes import (
    EpisodePolicy,
    NoopEpisodePolicy,
    Scenario,
    make_scenarios,
    run_scenario,
)
from aither_wm.eval.health import HealthHead, HealthObjective, fit_health_head, target_prior_costs
from aither_wm.eval.health_fit import HealthFitConfig, fit_health_model
from aither_wm.eval.metrics import EpisodeRecord
from aither_wm.eval.oracle import OraclePolicy
from aither_wm.eval.policies import PlannerEpisodePolicy, RandomEpisodePolicy, ReactiveEpisodePolicy
from aither_wm.eval.ppo import PPOConfig, PPOEpisodePolicy, train_ppo
from aither_wm.eval.quality import model_quality
from aither_wm.eval.summary import summarize
from aither_wm.graph.schema import ServiceGraph, load_graph
from aither_wm.models.mesh_model import MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.planning import PlanObjective, action_costs

__all__ = ["FULL", "QUICK", "AutohealSettings", "format_autoheal", "run_autoheal_bench"]

Progress = Callable[[str, dict[str, Any]], None]

#: Fault parameters the model never trained on (defaults in brackets): stronger or weaker faults.
UNSEEN_INTENSITY: dict[str, dict[str, float]] = {
    "memory_leak": {"rate_per_step": 0.05},  # [0.025]
    "cpu_saturation": {"target_rho": 1.5},  # [1.1]
    "bad_deploy": {"error_rate": 0.15},  # [0.4]
    "database_fault": {"error_rate": 0.3},  # [0.6]
    "disk_full": {"fill_per_step": 0.16},  # [0.08]
    "network_delay": {"delay_ms": 3000.0},  # [1500]
    "gpu_memory_pressure": {"creep_per_step": 0.04},  # [0.02]
    "retry_storm": {"storm_load": 1.6},  # [1.2]
}


@dataclass(frozen=True)
class AutohealSettings:
    """Sizes of one benchmark run (see :data:`QUICK` and :data:`FULL`).

    ``control``: the control model's recipe (rows ``cem_control``, ``mcts_control``; None: no
    such rows). ``observed_oracle``: add ``oracle_observed``, the oracle without privileged
    candidates. ``ppo``: add ``ppo``, MaskablePPO trained on this graph's env
    (:mod:`aither_wm.eval.ppo`). ``legacy``: add the rows of the world model before the control model (health
    objective: ``cem``, ``mcts``; with ``compare_demo`` and ``fix_ablation`` its one-change-at-a-
    time ablation) and their world-model quality tables.
    """

    model: WorldModelConfig
    fit: HealthFitConfig
    train_episodes: int
    train_episode_steps: int
    test_episodes: int
    episode_steps: int
    seeds: int
    episodes: int
    cem: dict[str, Any]
    mcts: dict[str, Any]
    min_improvement: float
    oracle_horizon: int
    target_prior: float = 2.0
    behaviour: ExplorePolicy = field(default_factory=ExplorePolicy)
    onset_step: int = 3
    intensity: dict[str, dict[str, float]] = field(default_factory=lambda: dict(UNSEEN_INTENSITY))
    intensity_seeds: int = 5
    unseen_topology: bool = True
    compare_demo: bool = True
    fix_ablation: bool = True
    worldmodel_steps: int = 400
    ablation_steps: int = 300
    ablation_setups: tuple[str, ...] = ("sigreg", "sigreg_ema_stopgrad", "none", "vicreg")
    control: ControlRecipe | None = None
    observed_oracle: bool = True
    ppo: PPOConfig | None = None
    legacy: bool = False


QUICK = AutohealSettings(
    model=SMALL_MODEL,
    fit=HealthFitConfig(steps=300, batch_size=24, rollout_steps=4),
    train_episodes=60,
    train_episode_steps=30,
    test_episodes=12,
    episode_steps=24,
    seeds=5,
    episodes=1,
    cem={"horizon": 4, "num_samples": 96, "num_elites": 12, "iterations": 2},
    mcts={"horizon": 4, "num_simulations": 48, "top_m": 8},
    min_improvement=0.25,
    oracle_horizon=6,
    intensity_seeds=2,
    unseen_topology=False,
    compare_demo=False,
    fix_ablation=False,
    worldmodel_steps=60,
    ablation_steps=40,
    ablation_setups=("sigreg", "none"),
    control=QUICK_RECIPE,
    ppo=PPOConfig(total_steps=2048),
)
FULL = AutohealSettings(
    model=SMALL_MODEL,
    fit=HealthFitConfig(steps=2000, batch_size=32, rollout_steps=6),
    train_episodes=400,
    train_episode_steps=40,
    test_episodes=30,
    episode_steps=36,
    seeds=5,
    episodes=1,
    cem={"horizon": 6},
    mcts={"horizon": 6},
    min_improvement=0.25,
    oracle_horizon=8,
    control=FULL_RECIPE,
    # the FULL control recipe's played steps: (200 labelled + 600 branch episodes) x 40; its
    # counterfactual rollouts (~270k more simulator steps) are not counted: PPO at that budget
    # takes ~13 CPU-minutes per graph here, and 3x the budget did not change the verdict
    # (docs/ppo.md)
    ppo=PPOConfig(total_steps=(FULL_RECIPE.train_episodes + FULL_RECIPE.branch_episodes) * 40),
)


def _note(progress: Progress | None, phase: str, **info: Any) -> None:
    if progress is not None:
        progress(phase, info)


def _labelled(
    graph: ServiceGraph, s: AutohealSettings, *, seed: int, episodes: int, steps: int
) -> list[LabelledEpisode]:
    from aither_wm.sim.faults import FAULT_NAMES

    scen = training_scenarios(seed=seed, episodes=episodes, steps=steps, faults=list(FAULT_NAMES))
    return collect(graph, scen, behaviour=s.behaviour)


def _train(
    graphs: dict[ServiceGraph, list[LabelledEpisode]], s: AutohealSettings, seed: int
) -> tuple[WorldModel, HealthHead, dict[str, Any]]:
    torch.manual_seed(seed)
    model = WorldModel(s.model)
    head, rep = fit_health_model(model, graphs, s.fit.model_copy(update={"seed": seed}))
    info = {
        "recipe": "k-step rollouts + health head",
        "steps": rep.steps,
        "seconds": round(rep.seconds, 1),
        "windows": rep.windows,
        "transitions": sum(len(e.transitions) for eps in graphs.values() for e in eps),
        "graphs": sorted(g.name for g in graphs),
        "final": {k: round(v, 4) for k, v in rep.final.items()},
    }
    return model, head, info


def _head_on_frozen(
    model: WorldModel, graph: ServiceGraph, eps: list[LabelledEpisode]
) -> HealthHead:
    import numpy as np

    mesh = MeshWorldModel(model)
    states = [t.state for e in eps for t in e.transitions]
    z = torch.cat([mesh.encode(graph, states[i : i + 256]).z for i in range(0, len(states), 256)])
    health = torch.as_tensor(np.concatenate([e.health[:-1] for e in eps]))
    violated = torch.as_tensor(np.concatenate([e.violated[:-1] for e in eps]))
    return fit_health_head(z, violated, (health > 0).float().mean(1))


def _health_objective(
    head: HealthHead, prior: float
) -> Callable[[Any, torch.Tensor], HealthObjective]:
    """The planners' objective: predicted unhealthiness of the rollout, plus (``prior`` > 0) a
    learned prior against acting on services the per-service read-out finds healthy."""

    def objective(d: Any, costs: torch.Tensor) -> HealthObjective:
        if prior > 0 and head.service is not None and d.services is not None:
            p = head.service_probabilities(d.services)  # [N]
            costs = target_prior_costs(costs, d.space.target_ids(), p, prior)
        return HealthObjective(goal=d.goal, action_cost=costs, head=head)

    return objective


def _planners(
    model: WorldModel,
    head: HealthHead | None,
    graph: ServiceGraph,
    s: AutohealSettings,
    *,
    suffix: str = "",
    kinds: tuple[str, ...] = ("cem", "mcts"),
    prior: float | None = None,
) -> list[PlannerEpisodePolicy]:
    """Planners on ``model`` through the controller: the health objective (with the target prior,
    the settings' horizons and ``min_improvement``) when ``head`` is given; else the original
    goal-latent objective with the planners' default configs (horizon 3) and no threshold."""
    out = []
    for kind in kinds:
        cfg = {"cem": s.cem, "mcts": s.mcts}[kind]
        objective = (
            _health_objective(head, s.target_prior if prior is None else prior) if head else None
        )
        svc = PlannerService(
            kind,
            model_config=model.config,
            graphs=[graph],
            planner_config=cfg if head is not None else {},
            objective=objective,
            name=kind,
        )
        svc.load_weights(1, model.state_dict())
        ctl = {
            "deadline_ms": 600_000.0,  # budget-limited search: same seed, same plan on any machine
            "min_weights_version": 1,
            "min_improvement": s.min_improvement if head is not None else 0.0,
        }
        pol = PlannerEpisodePolicy(kind, svc, graph, controller=ctl)
        pol.name = kind + suffix
        out.append(pol)
    return out


def _play(
    graph: ServiceGraph,
    scenarios: list[Scenario],
    policies: list[EpisodePolicy],
    progress: Progress | None,
    phase: str,
) -> list[EpisodeRecord]:
    records = []
    total, done = len(scenarios) * len(policies), 0
    for p in policies:
        for sc in scenarios:
            records.append(run_scenario(graph, sc, p))
            done += 1
            _note(progress, phase, n=done, total=total, policy=p.name)
    return records


def _verdict(
    summary: dict[str, Any], planners: tuple[str, ...] = ("cem", "mcts")
) -> dict[str, Any]:
    pol, by, vs = summary["policies"], summary["by_fault"], summary.get("vs_reactive", {})
    out: dict[str, Any] = {}
    if "reactive" not in pol:
        return out
    r_slo = pol["reactive"]["slo_violation_minutes"]["mean"]
    o_slo = pol["oracle"]["slo_violation_minutes"]["mean"] if "oracle" in pol else None
    for p in planners:
        if p not in pol:
            continue
        m = pol[p]
        d = vs.get(p, {})
        faults = [f for f in by if f != "none" and p in by[f] and "reactive" in by[f]]
        wins = [
            f
            for f in faults
            if by[f][p]["slo_violation_minutes"]["mean"]
            < by[f]["reactive"]["slo_violation_minutes"]["mean"]
        ]
        gap = (r_slo - o_slo) if o_slo is not None else None
        out[p] = {
            "beats_reactive_overall": bool(
                d.get("ci95", [None, None])[1] is not None and d["ci95"][1] < 0
            ),
            "slo_minutes_vs_reactive": d,
            "fault_types_better_than_reactive": f"{len(wins)}/{len(faults)}",
            "gap_to_oracle_closed": round((r_slo - m["slo_violation_minutes"]["mean"]) / gap, 3)
            if gap and gap > 0
            else None,
            "fewer_wrong_or_harmful_than_reactive": m["wrong_or_harmful_actions"]["mean"]
            < pol["reactive"]["wrong_or_harmful_actions"]["mean"],
            "fault_free_actions_at_most_reactive": (m["fault_free_actions"] or {}).get("mean", 0.0)
            <= (pol["reactive"]["fault_free_actions"] or {}).get("mean", 0.0),
        }
        if "ppo" in pol:
            out[p]["beats_ppo"] = (
                m["slo_violation_minutes"]["mean"] < pol["ppo"]["slo_violation_minutes"]["mean"]
            )
    return out


def run_autoheal_bench(
    graph_path: Path | str,
    *,
    seed: int = 0,
    seeds: int | None = None,
    episodes: int | None = None,
    quick: bool = False,
    out_dir: Path | str | None = None,
    checkpoint: Path | str | None = None,
    settings: AutohealSettings | None = None,
    legacy: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); returns the report as a dict.

    Args:
        graph_path: the topology.
        seed: fixes data, model initialisation, scenarios and planners.
        seeds: replicates (>= 5 for the intervals the report quotes; default from settings).
        episodes: episodes per fault type (and fault-free) per replicate.
        quick: the small run (a few minutes on 2 cores; its numbers are a smoke test).
        out_dir: where report.json, report.md and the plots go (None: nothing written).
        checkpoint: the legacy rows plan with this world model (a linear health head is fit on
            its frozen latents) instead of training one; implies the legacy rows.
        settings: sizes (default QUICK or FULL); ``seeds``/``episodes`` override them.
        legacy: also the rows of the world model before the control model (see
            :class:`AutohealSettings`).
    """
    from aither_wm.sim.faults import FAULT_NAMES

    started = time.perf_counter()
    s = settings or (QUICK if quick else FULL)
    s = replace(s, seeds=seeds or s.seeds, episodes=episodes or s.episodes)
    s = replace(s, legacy=s.legacy or legacy or checkpoint is not None)
    graph = load_graph(graph_path)
    timings: dict[str, float] = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    policies: list[EpisodePolicy] = []
    try:
        # 1. data --------------------------------------------------------------------------------
        t = time.perf_counter()
        train_eps = _labelled(
            graph, s, seed=seed, episodes=s.train_episodes, steps=s.train_episode_steps
        )
        test_eps = _labelled(
            graph, s, seed=seed + 50_000, episodes=s.test_episodes, steps=s.train_episode_steps
        )
        timings["data_s"] = time.perf_counter() - t
        _note(progress, "data", transitions=sum(len(e.transitions) for e in train_eps))

        # 2. the models --------------------------------------------------------------------------
        training: dict[str, Any] = {}
        control_rows: list[EpisodePolicy] = []
        if s.control is not None:
            t = time.perf_counter()
            control_rows, training["control"] = _control_rows([graph], graph, s.control, seed)
            timings["control_s"] = time.perf_counter() - t
            _note(progress, "control model", **_brief(training["control"]))
        peers: list[EpisodePolicy] = []
        if s.ppo is not None:
            t = time.perf_counter()
            ppo_model, training["ppo"] = train_ppo(graph, s.ppo.model_copy(update={"seed": seed}))
            peers.append(PPOEpisodePolicy(graph, ppo_model))
            timings["ppo_s"] = time.perf_counter() - t
            _note(progress, "ppo", **_brief(training["ppo"]))
        legacy = None
        if s.legacy:
            t = time.perf_counter()
            legacy = _Legacy.build(graph, s, seed, train_eps, checkpoint)
            training.update(legacy.training)
            timings["train_s"] = time.perf_counter() - t
            _note(progress, "train", **_brief(legacy.training))

        # 3. the scenarios under every policy ----------------------------------------------------
        t = time.perf_counter()
        faults: list[str | None] = [None, *FAULT_NAMES]
        scenarios = make_scenarios(
            seed=seed, seeds=s.seeds, faults=faults, steps=s.episode_steps, episodes=s.episodes,
            onset_step=s.onset_step,
        )  # fmt: skip
        oracles: list[EpisodePolicy] = [OraclePolicy(horizon=s.oracle_horizon)]
        if s.observed_oracle:
            oracles.append(
                OraclePolicy(
                    horizon=s.oracle_horizon, candidates="observed", name="oracle_observed"
                )
            )
        planners = [*(legacy.planners if legacy else []), *control_rows]
        policies = [
            NoopEpisodePolicy(),
            RandomEpisodePolicy(graph),
            ReactiveEpisodePolicy(graph),
            *planners,
            *peers,
            *oracles,
            *(legacy.extra if legacy else []),
        ]
        records = _play(graph, scenarios, policies, progress, "episodes")
        timings["episodes_s"] = time.perf_counter() - t
        summary = summarize(records)

        # 4. held-out generalisation -------------------------------------------------------------
        generalisation: dict[str, Any] = {}
        t = time.perf_counter()
        if s.intensity:
            hard = [f for f in FAULT_NAMES if f in s.intensity]
            sc_i = make_scenarios(
                seed=seed + 7, seeds=s.intensity_seeds, faults=hard, steps=s.episode_steps,
                episodes=s.episodes, onset_step=s.onset_step, params=s.intensity,
            )  # fmt: skip
            pol_i = [NoopEpisodePolicy(), ReactiveEpisodePolicy(graph), *planners, *peers,
                     oracles[0]]  # fmt: skip
            summ_i = summarize(_play(graph, sc_i, pol_i, progress, "unseen intensity"))
            generalisation["unseen_intensity"] = {"params": s.intensity, **_public(summ_i)}
        timings["intensity_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if s.unseen_topology:
            others = _other_graphs(graph)
            base = [r for r in records if r.policy in ("noop", "reactive", "oracle")]
            topo_rows: list[EpisodePolicy] = []
            topo_info: dict[str, Any] = {"graphs": sorted(g.name for g in others)}
            if s.control is not None:
                split = _split_recipe(s.control, len(others))
                topo_rows, topo_info["control"] = _control_rows(others, graph, split, seed)
            if legacy is not None:
                topo_rows += legacy.unseen_topology(graph, others, s, seed)
                topo_info.update(legacy.topology_training)
            policies += topo_rows
            topo_records = _play(graph, scenarios, topo_rows, progress, "unseen topology")
            generalisation["unseen_topology"] = {
                "training": topo_info,
                **_public(summarize(base + topo_records)),
            }
        timings["topology_s"] = time.perf_counter() - t

        # 5. world-model quality and the collapse ablation ----------------------------------------
        t = time.perf_counter()
        quality = legacy.quality(graph, s, train_eps, test_eps) if legacy else {}
        quality["one_step_recipe"] = _one_step_table(graph_path, s, seed)
        timings["quality_s"] = time.perf_counter() - t
        t = time.perf_counter()
        ablation = _collapse_ablation(graph, s, seed, train_eps)
        timings["ablation_s"] = time.perf_counter() - t
    finally:
        torch.set_num_threads(threads)
        for p in policies:
            if hasattr(p, "close"):
                p.close()

    report: dict[str, Any] = {
        "graph": graph.name,
        "services": graph.num_services,
        "quick": quick,
        "seed": seed,
        "seeds": s.seeds,
        "episodes_per_scenario": s.episodes,
        **_public(summary),
        "verdict": _verdict(
            summary, tuple(p for p in summary["policies"] if p.startswith(("cem", "mcts")))
        ),
        "generalisation": generalisation,
        "world_model": quality,
        "ablation": ablation,
        "training": training,
        "settings": _settings_dict(s),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    report["wall_s"] = round(time.perf_counter() - started, 1)
    if out_dir is not None:
        report["files"] = _write(Path(out_dir), report, summary, records, generalisation)
    return report


def _brief(info: dict[str, Any]) -> dict[str, Any]:
    """A training report without its loss breakdown and tables (for progress lines)."""
    out = {k: v for k, v in info.items() if k not in ("final", "calibration", "config")}
    cal = info.get("calibration") or {}
    for key in ("min_improvement", "min_improvement_wait"):
        if key in cal:
            out[key] = cal[key]
    return out


def _control_rows(
    graphs: list[ServiceGraph], target: ServiceGraph, recipe: ControlRecipe, seed: int
) -> tuple[list[EpisodePolicy], dict[str, Any]]:
    """The control model trained on ``graphs``, as ``cem_control`` and ``mcts_control`` on
    ``target`` with its calibrated thresholds; and its training report."""
    model, info = train_control(graphs, recipe, seed)
    cal = info["calibration"]
    rows = control_policies(
        model, target, cal.get("min_improvement", 0.25), cal.get("min_improvement_wait")
    )
    return list(rows), info


def _split_recipe(recipe: ControlRecipe, parts: int) -> ControlRecipe:
    """``recipe`` with its episode counts shared among ``parts`` graphs (the same data budget)."""

    def share(n: int) -> int:
        return max(1, n // parts) if n else 0

    return replace(
        recipe,
        train_episodes=share(recipe.train_episodes),
        branch_episodes=share(recipe.branch_episodes),
        calibration_episodes=share(recipe.calibration_episodes),
        selection_seeds=share(recipe.selection_seeds),
    )


def _one_step_table(graph_path: Path | str, s: AutohealSettings, seed: int) -> dict[str, Any]:
    """``bench worldmodel``'s seen/unseen fault-type table with the settings' model."""
    from aither_wm.bench.worldmodel import DEFAULT_SEEN, run_worldmodel_bench

    wm_train = TrainConfig(steps=s.worldmodel_steps, seed=seed, batch_size=32, num_slices=64)
    return run_worldmodel_bench(
        Path(graph_path), seed=seed, seen=DEFAULT_SEEN, train_episodes=max(8, s.train_episodes // 5),
        test_episodes=max(8, s.test_episodes), episode_steps=s.train_episode_steps,
        train_config=wm_train, model_config=s.model,
    )  # fmt: skip


def _collapse_ablation(
    graph: ServiceGraph, s: AutohealSettings, seed: int, train_eps: list[LabelledEpisode]
) -> dict[str, Any]:
    """``bench ablation`` (SIGReg vs EMA/stop-gradient vs nothing vs VICReg) on the bench's data."""
    from aither_wm.bench.ablation import run_ablation
    from aither_wm.train import TransitionDataset

    data = TransitionDataset.from_transitions(
        [tr for e in train_eps for tr in e.transitions], {graph.name: graph}
    )
    return run_ablation(
        graph, data, model_config=s.model, setups=s.ablation_setups,
        train_config=TrainConfig(steps=s.ablation_steps, seed=seed, batch_size=32, num_slices=64),
    )  # fmt: skip


@dataclass
class _Legacy:
    """The rows of the world model before the control model (``--legacy``): planners on a
    world model trained along k-step rollouts with a health head (``cem``, ``mcts``), one
    change at a time (``cem_demo``: the demo's recipe; ``cem_goal``: the goal-latent objective;
    ``cem_noprior``: no target prior; ``oracle_h3``: the oracle at horizon 3), their
    world-model quality tables and their unseen-topology rows."""

    model: WorldModel
    head: HealthHead
    training: dict[str, Any]
    planners: list[EpisodePolicy]
    extra: list[EpisodePolicy]
    demo_model: WorldModel | None = None
    topology_model: tuple[WorldModel, HealthHead] | None = None
    topology_training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        graph: ServiceGraph,
        s: AutohealSettings,
        seed: int,
        train_eps: list[LabelledEpisode],
        checkpoint: Path | str | None,
    ) -> _Legacy:
        from aither_wm.train import load_checkpoint

        if checkpoint is not None:
            model = load_checkpoint(checkpoint).model
            head = _head_on_frozen(model, graph, train_eps)
            training: dict[str, Any] = {
                "recipe": "checkpoint + linear head on frozen latents",
                "checkpoint": str(checkpoint),
            }
        else:
            model, head, training = _train({graph: train_eps}, s, seed)
        planners: list[EpisodePolicy] = list(_planners(model, head, graph, s))
        extra: list[EpisodePolicy] = []
        demo_model = None
        if s.compare_demo:
            demo_model, training["cem_demo"] = _demo_model(graph, seed)
            extra += _planners(demo_model, None, graph, s, suffix="_demo", kinds=("cem",))
        if s.fix_ablation:
            extra += _planners(model, None, graph, s, suffix="_goal", kinds=("cem",))
            extra += _planners(model, head, graph, s, suffix="_noprior", kinds=("cem",), prior=0.0)
            extra.append(OraclePolicy(horizon=3, name="oracle_h3"))
        return cls(model, head, training, planners, extra, demo_model)

    def unseen_topology(
        self, graph: ServiceGraph, others: list[ServiceGraph], s: AutohealSettings, seed: int
    ) -> list[EpisodePolicy]:
        """Planners on ``graph`` with a model trained on ``others`` only."""
        eps = {
            g: _labelled(g, s, seed=seed + 1 + i, episodes=s.train_episodes // len(others),
                         steps=s.train_episode_steps)
            for i, g in enumerate(others)
        }  # fmt: skip
        model, head, info = _train(eps, s, seed)
        self.topology_model, self.topology_training = (model, head), {"legacy": info}
        return list(_planners(model, head, graph, s))

    def quality(
        self,
        graph: ServiceGraph,
        s: AutohealSettings,
        train_eps: list[LabelledEpisode],
        test_eps: list[LabelledEpisode],
    ) -> dict[str, Any]:
        from aither_wm.sim.faults import FAULT_NAMES

        head, h = self.head, s.fit.rollout_steps
        objectives = {
            "goal": lambda d: PlanObjective(goal=d.goal, action_cost=action_costs(d.type_ids)),
            "health": lambda d: _health_objective(head, 0.0)(d, action_costs(d.type_ids)),
            "health+prior": lambda d: _health_objective(head, s.target_prior)(
                d, action_costs(d.type_ids)
            ),
        }
        out = {
            "bench_model": model_quality(
                self.model, head, graph, train_eps, test_eps, horizon=h, objectives=objectives
            )
        }
        if self.topology_model is not None:
            out["unseen_topology_model"] = model_quality(
                *self.topology_model, graph, train_eps, test_eps, horizon=h,
                train_faults=list(FAULT_NAMES),
            )  # fmt: skip
        if self.demo_model is not None:  # the "before": the demo's model, its goal objective
            out["demo_model"] = model_quality(
                self.demo_model, _head_on_frozen(self.demo_model, graph, train_eps), graph,
                train_eps, test_eps, horizon=3, objectives={"goal": objectives["goal"]},
            )  # fmt: skip
        return out


def _public(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without the raw lists (lead times are summarised, not listed)."""
    from aither_wm.eval.summary import percentile

    lead = summary["lead_times_s"]
    return {
        "policies": summary["policies"],
        "by_fault": summary["by_fault"],
        "vs_reactive": summary.get("vs_reactive", {}),
        "decision_ms": summary["decision_ms"],
        "lead_time_s": {
            p: {
                "n": len(v),
                "p50": percentile(v, 0.5),
                "p10": percentile(v, 0.1),
                "p90": percentile(v, 0.9),
            }
            for p, v in lead.items()
        },
    }


def _other_graphs(graph: ServiceGraph) -> list[ServiceGraph]:
    here = Path(str(graph.source)).parent if graph.source else Path("graphs")
    out = []
    for p in sorted(here.glob("*.json")):
        try:
            g = load_graph(p)
        except Exception:  # not a graph file
            continue
        if g.name != graph.name:
            out.append(g)
    return out


def _demo_model(graph: ServiceGraph, seed: int) -> tuple[WorldModel, dict[str, Any]]:
    """The demo's recipe (FULL): default behaviour data, one-step ``train.fit``."""
    from aither_wm.apps.presets import FULL as DEMO
    from aither_wm.sim.scenarios import generate_transitions
    from aither_wm.train import TransitionDataset, fit

    trs = list(
        generate_transitions(graph, episodes=DEMO.data_episodes, steps=DEMO.data_steps, seed=seed)
    )
    data = TransitionDataset.from_transitions(trs, {graph.name: graph})
    torch.manual_seed(seed)
    model = WorldModel(DEMO.model)
    t = time.perf_counter()
    rep = fit(model, data, DEMO.train.model_copy(update={"seed": seed}))
    model.eval()
    return model, {"recipe": "demo (one-step fit, goal objective, horizon 3)", "steps": rep.steps,
                   "transitions": len(trs), "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip


def _settings_dict(s: AutohealSettings) -> dict[str, Any]:
    d = asdict(s)
    d["model"] = s.model.model_dump()
    d["fit"] = s.fit.model_dump()
    if s.ppo is not None:
        d["ppo"] = s.ppo.model_dump()
    if s.control is not None:
        d["control"] = {**asdict(s.control), "model": s.control.model.model_dump(),
                        "fit": s.control.fit.model_dump()}  # fmt: skip
    return d


# --- report ------------------------------------------------------------------------------------


def _ci(block: dict[str, Any] | None, nd: int = 2) -> str:
    if not block:
        return "-"
    lo, hi = block["ci95"]
    if lo is None:
        return f"{block['mean']:.{nd}f}"
    return f"{block['mean']:.{nd}f} [{lo:.{nd}f}, {hi:.{nd}f}]"


def _policy_table(part: dict[str, Any]) -> list[str]:
    lines = [
        "| policy | SLO-violation min / episode | availability | time to mitigate, s | mitigated | actions / ep. | wrong or harmful / ep. | actions / fault-free ep. | SLO min vs reactive |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in part["policies"].items():
        vs = part.get("vs_reactive", {}).get(name)
        lines.append(
            f"| {name} | {_ci(m['slo_violation_minutes'])} | {_ci(m['availability'], 4)} | "
            f"{_ci(m['time_to_mitigate_s'], 0)} | {_ci(m['mitigated'])} | {_ci(m['actions'])} | "
            f"{_ci(m['wrong_or_harmful_actions'])} | {_ci(m['fault_free_actions'])} | "
            f"{_ci(vs) if vs else '-'} |"
        )
    return lines


def _fault_table(part: dict[str, Any]) -> list[str]:
    names = list(part["policies"])
    lines = ["| fault | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for f, row in part["by_fault"].items():
        cells = [_ci((row.get(n) or {}).get("slo_violation_minutes")) for n in names]
        lines.append(f"| {f} | " + " | ".join(cells) + " |")
    return lines


def _thresholds(r: dict[str, Any]) -> list[str]:
    """The control rows' deviation thresholds, one line (none without control rows)."""
    cal = r["training"].get("control", {}).get("calibration") or {}
    if "min_improvement" not in cal:
        return []
    how = "selected in closed loop" if "selection" in cal else "calibrated open loop"
    return [
        "",
        f"Control rows' thresholds ({how}; violation-steps, 1e+09: never deviate from the "
        f"runbook): min_improvement {cal['min_improvement']:g}, min_improvement_wait "
        f"{cal.get('min_improvement_wait')}; open-loop calibration "
        f"{cal.get('open_loop', (cal['min_improvement'], cal.get('min_improvement_wait')))}.",
    ]


def format_autoheal(r: dict[str, Any]) -> str:
    """The report as markdown tables."""
    from aither_wm.bench.ablation import format_ablation
    from aither_wm.bench.worldmodel import format_worldmodel

    kind = "quick" if r["quick"] else "full"
    out = [
        f"## {r['graph']} ({r['services']} services), {kind}, seed {r['seed']}: {r['seeds']} seeds x "
        f"{r['episodes_per_scenario']} episode(s) per scenario, wall {r['wall_s']} s",
        "",
        "Mean per episode [95 % CI over seeds]; 'vs reactive' is the paired difference (negative: "
        "fewer SLO minutes than reactive).",
        "",
        *_policy_table(r),
        "",
        "SLO-violation minutes per episode, by fault type:",
        "",
        *_fault_table(r),
        "",
        "Verdict: " + json.dumps(r["verdict"]),
        *_thresholds(r),
        "",
        "Decision latency (ms, p50 / p95): "
        + ", ".join(f"{p} {v['p50']} / {v['p95']}" for p, v in r["decision_ms"].items()),
    ]
    gen = r.get("generalisation", {})
    if "unseen_intensity" in gen:
        out += ["", "### Unseen fault intensities (same model)", "", *_policy_table(gen["unseen_intensity"]),
                "", *_fault_table(gen["unseen_intensity"])]  # fmt: skip
    if "unseen_topology" in gen:
        tr = gen["unseen_topology"]["training"]
        out += ["", f"### Unseen topology (model trained on {', '.join(tr['graphs'])})", "",
                *_policy_table(gen["unseen_topology"])]  # fmt: skip
    wm = r["world_model"]
    for key, q in wm.items():
        if key == "one_step_recipe":
            continue
        p = q["prediction"]
        out += [
            "",
            f"### World model quality: {key} (held out, {q['test_transitions']} transitions)",
            "",
            f"prediction MSE ratio vs 'nothing changes': overall {p['overall']['ratio']:.3f}; "
            f"(fault, action) pairs seen in training {(p['fault_action']['seen'] or {}).get('ratio', float('nan')):.3f}, "
            f"unseen {(p['fault_action']['unseen'] or {}).get('ratio', float('nan')):.3f}",
            "",
            "| bucket | n | pred MSE | copy MSE | ratio | probe acc. | always-healthy acc. | unhealthy recall |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for b, row in p["buckets"].items():
            pr = q["probe"]["encoded"].get(b, {})
            out.append(
                f"| {b} | {row['n']} | {row['pred_mse']:.4g} | {row['copy_mse']:.4g} | {row['ratio']:.3f} | "
                f"{pr.get('accuracy', float('nan')):.3f} | {pr.get('majority_accuracy', float('nan')):.3f} | "
                f"{pr.get('unhealthy_recall', float('nan')):.3f} |"
            )
        hh = q["health_head"]
        out += [
            "",
            f"original objective (distance to the goal latent) as an SLO-violation detector: AUC "
            f"{q['goal_distance_slo_auc']:.3f}",
            f"remedy ranking at faulted held-out states (rank percentile 0 = best; top-1; beats "
            f"no-op): {json.dumps(q['remedy_ranking'])}",
            f"probe on predicted next latents: {json.dumps({k: round(v, 3) for k, v in q['probe']['predicted_next']['overall'].items()})}",
            f"health head: SLO AUC {hh['slo_auc']}, Brier {hh['slo_brier']} (base rate {hh['base_rate_brier']}); "
            f"Brier along open-loop rollouts (h = 0..): {hh['rollout_brier']}",
        ]
    out += ["", "### One-step recipe (bench worldmodel), seen / unseen fault types", "",
            format_worldmodel(wm["one_step_recipe"]), "", "### Collapse ablation on simulator data", "",
            format_ablation(r["ablation"])]  # fmt: skip
    return "\n".join(out)


def _write(
    out: Path,
    report: dict[str, Any],
    summary: dict[str, Any],
    records: list[EpisodeRecord],
    generalisation: dict[str, Any],
) -> dict[str, str]:
    from aither_wm.eval.plots import plot_report

    out.mkdir(parents=True, exist_ok=True)
    ms: dict[str, list[float]] = {}
    for r in records:
        if r.policy not in ("noop",):
            ms.setdefault(r.policy, []).extend(r.decision_ms)
    brier = {
        k: q["health_head"]["rollout_brier"]
        for k, q in report["world_model"].items()
        if "health_head" in q
    }
    extra = {k: v for k, v in generalisation.items() if "by_fault" in v}
    plots = plot_report(out, summary, decision_ms=ms, extra_summaries=extra, rollout_brier=brier)
    files = {"dir": str(out), "report.json": "report.json", "report.md": "report.md"}
    files.update({p: p for p in plots})
    (out / "report.json").write_text(
        json.dumps({**report, "files": files}, indent=2, default=str) + "\n", encoding="utf-8"
    )
    md = [
        "# aither-wm bench autoheal",
        "",
        format_autoheal(report),
        "",
        *[f"![{p}]({p})" for p in plots],
        "",
    ]
    (out / "report.md").write_text("\n".join(md), encoding="utf-8")
    return files


if __name__ == "__main__":  # pragma: no cover - manual runs
    print(format_autoheal(run_autoheal_bench(sys.argv[1], quick=True)))
