"""The controller over planner actors (one ray.wait with a deadline), the controller actor with
the aither-sim plugin as state source and executor, the plugin lifecycle, and ``aither-wm run``."""

import json
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import ray
from runtime_helpers import CEM_SMALL, MCTS_SMALL, RT, TINY, TINY_TRAIN, boutique, broken_state

from aither_wm.apps.service import ServiceConfig, load_service_config, run_service
from aither_wm.control import (
    AutohealController,
    ControllerConfig,
    GuardConfig,
    RecordingExecutor,
    graph_to_dict,
)
from aither_wm.control.testing import FailingPlanner, HangingPlanner, RoguePlanner, SlowPlanner
from aither_wm.graph import ActionType
from aither_wm.runtime import (
    ActorDispatcher,
    AitherPlugin,
    ControllerActor,
    LoopSpec,
    PlannerSpec,
    PluginConfig,
    actor_name,
    start_planner,
)
from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS

ROOT = Path(__file__).resolve().parents[2]


def _first_party_site() -> str:
    """A real dist-info declaring the first-party entry points (as ``pip install`` writes once
    pyproject lists them), so Ray workers discover aither-sim through importlib.metadata."""
    site = Path(tempfile.mkdtemp(prefix="aither_site_"))
    info = site / "aither_wm_first_party-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: aither-wm-first-party\nVersion: 0.1.0\n"
    )
    lines = "\n".join(f"{k} = {v}" for k, v in FIRST_PARTY_ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[aither_wm.plugins]\n{lines}\n")
    return str(site)


RAY_RUNTIME_ENV = {"env_vars": {"PYTHONPATH": f"{_first_party_site()}:{ROOT / 'plugins'}"}}
pytestmark = pytest.mark.usefixtures("ray_session")


def planner_actor(name, planner, **kw):
    return start_planner(
        RT,
        planner,
        name=name,
        model_config=TINY.model_dump(),
        graphs=[graph_to_dict(boutique())],
        poll_interval_s=None,
        **kw,
    )


def kill(*handles):
    for h in handles:
        ray.kill(h, no_restart=True)


def test_decision_latency_is_the_slower_planner_not_the_sum(record_property):
    # 3 s planners: scheduling noise on a loaded 2-core machine (up to ~1 s seen) stays far
    # below the 3 s that a sequential controller would add
    a = planner_actor("slow-a", partial(SlowPlanner, 3.0, **CEM_SMALL))
    b = planner_actor("slow-b", partial(SlowPlanner, 3.0, **CEM_SMALL))
    g = boutique()
    ctl = AutohealController(
        g,
        ActorDispatcher({"a": a, "b": b}),
        RecordingExecutor(),
        config=ControllerConfig(deadline_ms=20_000, preference=("a", "b")),
    )
    ray.get([a.health.remote(), b.health.remote()], timeout=60)
    ctl.decide(broken_state(g, 0))  # warm up
    lat = [ctl.decide(broken_state(g, s)).latency_ms for s in range(1, 3)]
    record_property("decision_ms_two_3s_planners", lat)
    print(f"\ndecision latency with two 3 s planner actors: {[round(x) for x in lat]} ms")
    assert all(3000 <= x < 5500 for x in lat), lat  # max(3, 3) + overhead, never the 6 s sum
    kill(a, b)


def test_raising_and_hanging_planner_actors_are_survived():
    g = boutique()
    cem = planner_actor("cem-ok", "cem", planner_config=CEM_SMALL)
    failing = planner_actor("failing", FailingPlanner)
    ray.get([cem.health.remote(), failing.health.remote()], timeout=60)
    ctl = AutohealController(g, ActorDispatcher({"cem": cem, "mcts": failing}), RecordingExecutor())
    d = ctl.decide(broken_state(g, 0))
    assert d.chosen == "cem" and d.outcomes["mcts"].status == "error"
    assert "planner failure drill" in d.outcomes["mcts"].error
    kill(failing)
    hanging = planner_actor("hanging", partial(HangingPlanner, 20.0))
    ray.get(hanging.health.remote(), timeout=60)
    ctl = AutohealController(
        g,
        ActorDispatcher({"cem": cem, "mcts": hanging}),
        RecordingExecutor(),
        config=ControllerConfig(deadline_ms=400),
    )
    for step, status in ((1, "timeout"), (2, "busy"), (3, "busy")):
        t0 = time.perf_counter()
        d = ctl.decide(broken_state(g, step))
        assert time.perf_counter() - t0 < 3.0, step  # deadline 0.4 s; the planner hangs 20 s
        assert d.outcomes["mcts"].status == status and d.chosen == "cem"
    kill(hanging)  # a dead planner is an error, never a stall
    d = ctl.decide(broken_state(g, 4))
    assert d.chosen == "cem" and d.outcomes["mcts"].status in ("error", "busy")
    both_dead = AutohealController(
        g,
        ActorDispatcher({"cem": hanging}),
        RecordingExecutor(),
        config=ControllerConfig(deadline_ms=400),
    )
    d = both_dead.decide(broken_state(g, 5))
    assert d.chosen == "fallback" and d.action.type is ActionType.restart
    kill(cem)


def test_a_remote_planner_cannot_bypass_the_guard():
    g = boutique()
    restart = 1 + g.index("adservice")
    rogue = planner_actor("rogue", partial(RoguePlanner, restart))
    ray.get(rogue.health.remote(), timeout=60)
    ex = RecordingExecutor()
    guard = GuardConfig(dry_run=False, allowed_types=("scale_out",))
    ctl = AutohealController(
        g, ActorDispatcher({"rogue": rogue}), ex, config=ControllerConfig(guard=guard)
    )
    d = ctl.decide(broken_state(g))
    assert d.chosen == "rogue" and not d.verdict.allowed and not d.executed and ex.actions == []
    kill(rogue)


def test_controller_actor_runs_the_sim_plugin_loop(tmp_path):
    g = boutique()
    cem = planner_actor("cem", "cem", planner_config=CEM_SMALL)
    mcts = planner_actor("mcts", "mcts", planner_config=MCTS_SMALL)
    spec = LoopSpec(
        namespace=RT.namespace,
        graph=graph_to_dict(g),
        planners=("cem", "mcts"),
        trainer=None,
        state_source={
            "name": "sim",
            "options": {
                "seed": 1,
                "faults": [{"at": 2, "fault": "pod_kill", "target": "adservice"}],
            },
        },
        audit_log=str(tmp_path / "audit.jsonl"),
        transitions_log=str(tmp_path / "transitions.jsonl"),
        plugin_allow=tuple(FIRST_PARTY_ENTRY_POINTS),
    )
    ctl = ControllerActor.options(
        name=actor_name("controller"), namespace=RT.namespace, num_cpus=0
    ).remote(spec.model_dump(mode="json"))
    records = [ray.get(ctl.tick.remote(), timeout=60) for _ in range(6)]
    assert [r["step"] for r in records] == list(range(6))
    assert all(set(r["plans"]) == {"cem", "mcts"} for r in records) and not any(
        r["executed"] for r in records
    )
    health = ray.get(ctl.health.remote(), timeout=10)
    assert health["ticks"] == 6 and health["transitions"] == 5
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 6
    assert len((tmp_path / "transitions.jsonl").read_text().splitlines()) == 5
    kill(ctl, cem, mcts)


def test_plugin_lifecycle_is_idempotent(tmp_path):
    cfg = PluginConfig(
        graph=str(ROOT / "graphs/online-boutique.json"),
        runtime=RT,
        model=TINY,
        train=TINY_TRAIN,
        checkpoint=str(tmp_path / "wm.pt"),
        trainer_transitions_log=str(tmp_path / "t.jsonl"),
        planners={
            "cem": PlannerSpec(kind="cem", config=CEM_SMALL),
            "mcts": PlannerSpec(kind="mcts", config=MCTS_SMALL),
        },
    )
    plugin = AitherPlugin(cfg)
    assert plugin.health()["status"] == "not started"
    info = plugin.setup()
    assert plugin.setup() == info and info["mode"] == "existing"  # the test's session: not ours
    names = plugin.start()
    assert plugin.start() == names and set(names["planners"]) == {"cem", "mcts"}
    second = AitherPlugin(cfg)  # another host process attaches to the same named actors
    second.start()
    pid = ray.get(plugin.trainer.health.remote(), timeout=60)["pid"]
    assert ray.get(second.trainer.health.remote(), timeout=10)["pid"] == pid
    health = plugin.health(timeout_s=30)
    assert health["status"] == "ok" and set(health["actors"]) == {
        "trainer",
        "planner.cem",
        "planner.mcts",
    }
    assert health["actors"]["planner.cem"]["torch_threads"] == 1
    plugin.stop()
    plugin.stop()
    assert ray.is_initialized()  # stop() never shuts down a Ray it did not start
    assert second.health(timeout_s=5)["status"] == "degraded"  # its actors were the same: gone


def service_config(tmp_path, **kw):
    plugin = PluginConfig(
        graph=str(ROOT / "graphs/online-boutique.json"),
        runtime=RT,
        model=TINY,
        train=TINY_TRAIN,
        checkpoint=str(tmp_path / "wm.pt"),
        trainer_transitions_log=str(tmp_path / "trainer.jsonl"),
        planners={
            "cem": PlannerSpec(kind="cem", config=CEM_SMALL),
            "mcts": PlannerSpec(kind="mcts", config=MCTS_SMALL),
        },
        poll_interval_s=0.2,
    )
    base = {
        "plugin": plugin.model_dump(mode="json"),
        "state_source": {"name": "sim", "options": {"seed": 2, "fault_rate": 0.2}},
        "interval_s": 0.05,
        "max_ticks": 60,
        "min_transitions": 24,
        "train_steps": 10,
        "ingest_batch": 8,
        "audit_log": str(tmp_path / "audit.jsonl"),
        "transitions_log": str(tmp_path / "transitions.jsonl"),
        "plugin_allow": list(FIRST_PARTY_ENTRY_POINTS),
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps({**base, **kw}))
    return path


def test_run_service_is_dry_run_by_default_trains_and_hot_swaps(tmp_path):
    """Driven by events, not by a tick count: the run stops at the first decision taken on a
    plan from trained weights (the trainer trained, published, and a planner hot-swapped),
    however long a slow or single-core machine takes to get there; ``max_ticks`` is only a
    bound that fails the test if that never happens."""
    stop = threading.Event()
    seen = []

    def on_decision(record):
        seen.append(record)
        if record["chosen"] != "fallback":
            stop.set()

    bound = 3000
    summary = run_service(
        service_config(tmp_path, max_ticks=bound), stop=stop, on_decision=on_decision
    )
    assert stop.is_set(), f"no plan from trained weights in {bound} decisions"
    ticks = summary["ticks"]
    assert ticks == len(seen) < bound and summary["dry_run"] is True and summary["executed"] == 0
    assert summary["trainings"] and summary["trainings"][0]["version"] == 1
    records = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert len(records) == ticks and records[0]["chosen"] == "fallback"  # no trained model yet
    assert "older than min_weights_version" in records[0]["reason"]
    last = records[-1]
    assert last["chosen"] != "fallback" and last["plans"][last["chosen"]]["weights_version"] >= 1
    used = {
        r["plans"][r["chosen"]]["weights_version"] for r in records if r["chosen"] != "fallback"
    }
    assert used and min(used) >= 1  # planners hot-swapped the trained weights
    assert len((tmp_path / "transitions.jsonl").read_text().splitlines()) == ticks - 1
    assert summary["health"]["status"] == "ok"


def test_run_service_acts_only_when_told(tmp_path):
    path = service_config(
        tmp_path,
        dry_run=False,
        max_ticks=25,
        state_source={
            "name": "sim",
            "options": {
                "seed": 2,
                "faults": [{"at": 1, "fault": "pod_kill", "target": "adservice"}],
            },
        },
    )
    lines = []
    summary = run_service(path, say=lines.append)
    assert summary["dry_run"] is False and summary["executed"] >= 1
    # what `aither-wm run` prints: a banner, one line per decision, a summary on exit
    assert lines[0].startswith("aither-wm run: online-boutique (11 services), planners cem (cem)")
    assert "ACTING" in lines[0] and "2 planners x 0.5 CPU" in lines[0]
    steps = [x for x in lines if x.startswith("step ")]
    assert len(steps) == 25 and steps[0].startswith("step 0: fallback -> ")
    assert " | cem " in steps[-1] and "mcts" in steps[-1] and steps[-1].endswith(" ms")
    assert lines[-1].startswith("aither-wm run: stopped after 25 decisions")


def test_service_config_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dry_run": False, "intervall_s": 3}))
    with pytest.raises(Exception, match="intervall_s: Extra inputs are not permitted"):
        load_service_config(bad)
    assert ServiceConfig().dry_run is True
