"""Faults survived and load carried with real Ray (one session for the module).

* the trainer actor SIGKILLed in the middle of a training run restarts, resumes from its last
  checkpoint and loses no transition, whether the transitions come from a driver-side
  ``TrainerFeed`` or from the controller actor's loop (the path the service uses);
* a planner actor SIGKILLed or hung: every decision still comes within the controller's deadline,
  from the other planner, then (both down) from the rule-based fallback;
* load (sized small here; ``aither-wm bench reliability`` runs the full sizes): concurrent plan
  requests from 1 and 8 callers all answered; an event storm of duplicated states at the
  controller: each state decided once, the rest shed, every decision within the deadline and
  audited;
* security on the started session: auth mode ``token``, the token file exists, and a client
  holding a wrong token is refused by the GCS (RayHost's defaults: ``test_rel_security.py``).
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import ray
from rel_helpers import ROOT, RT, first_party_site

from aither_wm.bench.reliability import (
    CEM_SMALL,
    TINY,
    bench_graph,
    event_storm,
    plan_load,
    planner_faults,
    start_planner_pair,
    trainer_killed_mid_training,
)
from aither_wm.bench.reliability.ray_faults import _trainer_settings
from aither_wm.control import graph_to_dict
from aither_wm.data.log import read_transitions
from aither_wm.runtime import ControllerActor, LoopSpec, RayHost, actor_name, start_trainer
from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS
from aither_wm.wait import wait_until

RAY_RUNTIME_ENV = {"env_vars": {"PYTHONPATH": first_party_site()}}
#: Scheduling noise allowed past the deadline on a 2-core machine shared with other jobs (the
#: bench uses 150 ms; the decision's own wait is capped at the deadline by the dispatcher).
SLACK_MS = 400.0
pytestmark = pytest.mark.usefixtures("ray_session")


def test_trainer_sigkilled_mid_training_resumes_and_loses_no_transition(tmp_path):
    row = trainer_killed_mid_training(tmp_path, RT)
    print(f"\n{row}")
    assert row["interrupted_train_failed"]  # max_task_retries=0: never replayed on the new process
    assert row["resumed_version"] == row["checkpoint_version_on_disk"] == 1
    assert row["transitions_lost"] == 0 and row["resent"] > 0  # the outage was real
    assert row["recovered"] and row["recovery_s"] < 60


def test_controller_actor_streams_through_a_trainer_crash_without_loss(tmp_path):
    """The service's path: ControllerActor ticks (sim source) -> transitions log + TrainerFeed."""
    g = bench_graph()
    rt = RT.model_copy(update={"namespace": "aither_wm_rel_ctl"})
    settings = _trainer_settings(tmp_path)
    trainer = start_trainer(rt, settings, [graph_to_dict(g)])
    spec = LoopSpec(
        namespace=rt.namespace,
        graph=graph_to_dict(g),
        planners=(),  # the rule-based fallback decides: this test is about the transitions
        trainer=actor_name("trainer"),
        state_source={"name": "sim", "options": {"seed": 3, "fault_rate": 0.2}},
        transitions_log=str(tmp_path / "loop.jsonl"),
        ingest_batch=2,
        plugin_allow=tuple(FIRST_PARTY_ENTRY_POINTS),
    )
    ctl = ControllerActor.options(namespace=rt.namespace, num_cpus=0).remote(
        spec.model_dump(mode="json")
    )
    try:
        for _ in range(10):
            ray.get(ctl.tick.remote(), timeout=60)
        old = ray.get(trainer.health.remote(), timeout=60)["pid"]
        os.kill(old, signal.SIGKILL)
        for _ in range(15):  # batches go out while the trainer is dead, then restarting
            ray.get(ctl.tick.remote(), timeout=60)
            time.sleep(0.05)

        def all_acknowledged():
            ray.get(ctl.flush.remote(), timeout=30)  # resends what the trainer missed
            return ray.get(ctl.ingest_pending.remote(), timeout=30) == 0

        assert wait_until(all_acknowledged, timeout_s=60), "transitions never reached the trainer"
        assert ray.get(ctl.health.remote(), timeout=30)["trainer_feed"]["refused"] == 0
        health = ray.get(trainer.health.remote(), timeout=30)
        assert health["pid"] != old and health["version"] == 1
        sent = {t.model_dump_json() for t in read_transitions(tmp_path / "loop.jsonl").transitions}
        got = {t.model_dump_json() for t in read_transitions(settings.transitions_log).transitions}
        assert len(sent) == 24 and sent <= got, f"{len(sent - got)} transitions lost"
    finally:
        ray.kill(ctl, no_restart=True)
        ray.kill(trainer, no_restart=True)


def test_planner_killed_or_hung_decisions_stay_within_the_deadline():
    killed, hung, both = planner_faults(RT, deadline_ms=400, slack_ms=SLACK_MS)
    print(f"\n{killed}\n{hung}\n{both}")
    assert killed["answered_by"] == "mcts"  # the other planner, at once
    assert hung["answered_by"] == "cem" and hung["hung_status"] == ["timeout", "busy", "busy"]
    assert both["answered_by"] == "fallback" and both["fallback_action"].startswith("restart(")
    for row in (killed, hung, both):
        assert row["late_decisions"] == 0, row  # every decision within deadline + controller slack
        assert row["recovered"], row


def test_concurrent_plans_answered_and_an_event_storm_shed_within_the_deadline(tmp_path):
    pair = start_planner_pair(RT, "small")
    try:
        rows = plan_load(RT, callers=(1, 8), requests=16, planners=pair)
        storm = event_storm(
            RT,
            tmp_path,
            unique=8,
            copies=6,
            threads=6,
            deadline_ms=800,
            slack_ms=SLACK_MS,
            planners=pair,
        )
    finally:
        for p in pair.values():
            ray.kill(p, no_restart=True)
    print(f"\n{rows}\n{storm}")
    assert [r["callers"] for r in rows] == [1, 8]
    for r in rows:
        assert r["errors"] == 0 and r["requests"] == 16 and r["throughput_rps"] > 0
        assert r["p99_ms"] >= r["p50_ms"] > 0
    assert storm["events"] == 48 and storm["decided_twice"] == 0
    assert 1 <= storm["decisions"] <= 8 and storm["shed"] == 48 - storm["decisions"]
    assert storm["audited"] == storm["decisions"]  # shed duplicates are not new decisions
    assert storm["late_decisions"] == 0, storm


def test_a_started_session_uses_tokens_and_refuses_a_wrong_one():
    from ray._raylet import AuthenticationMode, get_authentication_mode

    assert get_authentication_mode() == AuthenticationMode.TOKEN
    token = Path.home() / ".ray" / "auth_token"
    assert token.is_file() and token.read_text().strip()
    assert RayHost().start()["mode"] == "existing"
    addr = ray.get_runtime_context().gcs_address
    probe = textwrap.dedent("""
        import sys
        from ray._raylet import GcsClient
        try:
            GcsClient(address=sys.argv[1]).internal_kv_get(b"session_name", b"session", timeout=5)
            print("ADMITTED")
        except Exception as e:
            print("REFUSED", type(e).__name__)
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    out = {}
    for name, extra in (("wrong", {"RAY_AUTH_TOKEN": "not-the-token"}), ("right", {})):
        run = subprocess.run(
            [sys.executable, "-c", probe, addr],
            env={**env, "RAY_AUTH_MODE": "token", **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        out[name] = run.stdout.strip().splitlines()[-1]
    assert out["wrong"] == "REFUSED AuthenticationError", out
    assert out["right"] == "ADMITTED", out  # the probe itself works


def test_run_service_survives_its_controller_actor_being_sigkilled(tmp_path):
    """``aither-wm run``'s loop: a tick that fails because the controller actor died (or its
    node went) is logged and the next tick tried on the restarted actor; the service goes on."""
    from aither_wm.apps.service import ServiceConfig, run_service
    from aither_wm.runtime import PlannerSpec, PluginConfig

    rt = RT.model_copy(update={"namespace": "aither_wm_rel_service"})
    plugin = PluginConfig(
        graph=str(ROOT / "graphs/online-boutique.json"),
        runtime=rt,
        model=TINY,
        checkpoint=str(tmp_path / "wm.pt"),
        trainer_transitions_log=str(tmp_path / "trainer.jsonl"),
        planners={"cem": PlannerSpec(kind="cem", config=CEM_SMALL)},
        poll_interval_s=None,
    )
    cfg = ServiceConfig(
        plugin=plugin,
        state_source={"name": "sim", "options": {"seed": 2}},
        interval_s=0.0,
        max_ticks=16,
        min_transitions=100_000,  # no training: this test is about the loop
        audit_log=str(tmp_path / "audit.jsonl"),
        transitions_log=str(tmp_path / "transitions.jsonl"),
        plugin_allow=tuple(FIRST_PARTY_ENTRY_POINTS),
    )
    killed = []

    def kill_after_four_ticks():
        ctl = ray.get_actor(actor_name("controller"), namespace=rt.namespace)
        health = ray.get(ctl.health.remote(), timeout=5)
        if health["ticks"] < 4:
            return False
        os.kill(health["pid"], signal.SIGKILL)
        killed.append(health["pid"])
        return True

    def killer():  # the actor may not exist yet, or be restarting: not yet
        wait_until(kill_after_four_ticks, timeout_s=120, interval_s=0.02, ignore=(Exception,))

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    summary = run_service(config=cfg)
    thread.join(timeout=5)
    print(f"\nticks {summary['ticks']}, failed ticks {summary['failed_ticks']}, killed {killed}")
    assert killed and summary["ticks"] == 16 and summary["dry_run"] is True
