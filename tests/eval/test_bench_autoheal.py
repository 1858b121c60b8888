"""``aither-wm bench autoheal`` end to end on a tiny setup: the JSON the issue asks for, the
report files, and world-model planners through the controller that replay bit for bit."""

import json
from dataclasses import replace

import torch
from eval_helpers import TINY, TINY_RECIPE

from aither_wm.bench.autoheal import QUICK, format_autoheal, run_autoheal_bench
from aither_wm.control.planners import PlannerService
from aither_wm.eval.episodes import Scenario, run_scenario
from aither_wm.eval.health import HealthHead, HealthObjective
from aither_wm.eval.health_fit import HealthFitConfig
from aither_wm.eval.policies import PlannerEpisodePolicy
from aither_wm.eval.ppo import PPOConfig
from aither_wm.models import WorldModel

TINY_BENCH = replace(
    QUICK,
    model=TINY,
    fit=HealthFitConfig(steps=4, batch_size=4, rollout_steps=2),
    train_episodes=6,
    train_episode_steps=8,
    test_episodes=2,
    episode_steps=6,
    seeds=2,
    cem={"horizon": 2, "num_samples": 16, "num_elites": 4, "iterations": 1},
    mcts={"horizon": 2, "num_simulations": 8, "top_m": 4},
    oracle_horizon=2,
    ppo=PPOConfig(total_steps=64, n_steps=32, batch_size=16, n_epochs=1),
    intensity={"cpu_saturation": {"target_rho": 1.5}},
    intensity_seeds=2,
    worldmodel_steps=3,
    ablation_steps=3,
    ablation_setups=("sigreg",),
    control=TINY_RECIPE,
)


def test_bench_tiny_end_to_end(tmp_path):
    settings = replace(TINY_BENCH, unseen_topology=True)
    r = run_autoheal_bench("graphs/online-boutique.json", settings=settings, out_dir=tmp_path)
    names = {"noop", "random", "reactive", "cem_control", "mcts_control", "oracle"}
    assert set(r["policies"]) == names | {"oracle_observed", "ppo"}
    assert r["training"]["ppo"]["steps"] >= 64
    for m in r["policies"].values():
        for key in ("availability", "slo_violation_minutes", "time_to_mitigate_s", "actions",
                    "wrong_or_harmful_actions", "fault_free_actions"):  # fmt: skip
            assert key in m
        assert m["slo_violation_minutes"]["n"] == 2  # one value per seed
    assert "none" in r["by_fault"] and "cache_down" in r["by_fault"] and len(r["by_fault"]) == 11
    assert set(r["verdict"]) == {"cem_control", "mcts_control"}
    cal = r["training"]["control"]["calibration"]
    picked = (cal["min_improvement"], cal["min_improvement_wait"])
    assert picked in {tuple(row["setting"]) for row in cal["selection"][1:]}
    assert cal["selection"][0]["setting"] == "baseline" and len(cal["selection"]) in (7, 13)
    assert set(r["generalisation"]["unseen_intensity"]["policies"]) >= {"reactive", "cem_control"}
    topo = r["generalisation"]["unseen_topology"]
    assert "online-boutique" not in topo["training"]["control"]["graphs"]
    assert set(topo["policies"]) == {"noop", "reactive", "oracle", "cem_control", "mcts_control"}
    assert "bench_model" not in r["world_model"] and "one_step_recipe" in r["world_model"]
    assert r["ablation"]["rows"][0]["setup"] == "sigreg"
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk["policies"] == json.loads(json.dumps(r["policies"]))
    for f in (
        "report.md",
        "slo_by_fault.png",
        "policies.png",
        "lead_times.png",
        "decision_latency.png",
    ):
        assert (tmp_path / f).stat().st_size > 0, f
    assert (tmp_path / "slo_by_fault.png").read_bytes()[:4] == b"\x89PNG"
    assert "| reactive |" in format_autoheal(r)


def test_bench_legacy_rows(tmp_path):
    settings = replace(TINY_BENCH, legacy=True, control=None, observed_oracle=False, ppo=None)
    r = run_autoheal_bench("graphs/online-boutique.json", settings=settings)
    assert set(r["policies"]) == {"noop", "random", "reactive", "cem", "mcts", "oracle"}
    assert set(r["verdict"]) == {"cem", "mcts"}
    assert r["world_model"]["bench_model"]["probe"]["encoded"]["overall"]["n"] > 0
    assert r["training"]["recipe"] == "k-step rollouts + health head"


def test_planner_policy_replays_bit_for_bit(boutique):
    torch.manual_seed(0)
    model = WorldModel(TINY).eval()
    head = HealthHead(model.latent_dim, TINY.encoder.d_model).eval()
    torch.nn.init.normal_(head.linear.weight, std=0.5)

    def objective(d, costs):
        return HealthObjective(goal=d.goal, action_cost=costs, head=head)

    s = Scenario("cache_down", seed=4, mesh_seed=2, steps=6, onset_step=1)
    runs = []
    for _ in range(2):
        svc = PlannerService("cem", model_config=TINY, graphs=[boutique], objective=objective,
                             planner_config={"horizon": 2, "num_samples": 16, "num_elites": 4})  # fmt: skip
        svc.load_weights(1, model.state_dict())
        pol = PlannerEpisodePolicy(
            "cem", svc, boutique, controller={"deadline_ms": 60_000, "min_weights_version": 1}
        )
        rec = run_scenario(boutique, s, pol)
        pol.close()
        assert len(pol.decisions) == 6 and all(
            d.outcomes["cem"].status == "ok" for d in pol.decisions
        )
        runs.append(
            (rec.actions, rec.violated, [d.outcomes["cem"].reply.cost for d in pol.decisions])
        )
    assert runs[0] == runs[1]
