"""The host API: ``AitherPlugin.decide`` / ``plan`` and their async twins, on a real Ray; the
runnable example (examples/host_policy.py) and the docs/host.md snippet, run as written."""

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_helpers import CEM_SMALL, MCTS_SMALL, RT, TINY, broken_state

from aither_wm.control import ControllerConfig
from aither_wm.errors import PlanningError, StateError
from aither_wm.runtime import AitherPlugin, PlannerSpec, PluginConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plugin(ray_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("host")
    cfg = PluginConfig(
        graph="online-boutique",
        runtime=RT.model_copy(update={"namespace": "aither_wm_host_test"}),
        model=TINY,
        checkpoint=str(tmp / "wm.pt"),
        trainer_transitions_log=None,
        planners={
            "cem": PlannerSpec(kind="cem", config=CEM_SMALL),
            "mcts": PlannerSpec(kind="mcts", config=MCTS_SMALL),
        },
        poll_interval_s=None,
    )
    p = AitherPlugin(
        cfg, controller=ControllerConfig(deadline_ms=20_000), audit_log=tmp / "a.jsonl"
    )
    p.start()
    yield p
    p.stop()


def test_decide_asks_both_planners_and_returns_pick_reason_and_verdict(plugin):
    state = broken_state(plugin.graph, step=1)
    d = plugin.decide(state.model_dump(mode="json"))  # the JSON form is accepted as is
    assert {n: o.status for n, o in d.outcomes.items()} == {"cem": "ok", "mcts": "ok"}
    assert d.chosen in ("cem", "mcts") and d.reason and d.verdict.step == 1
    assert d.dry_run and not d.executed  # dry-run unless the guard says otherwise
    record = d.to_record()
    assert set(record["plans"]) == {"cem", "mcts"} and record["chosen"] == d.chosen
    assert plugin.decide(state).decision_id == d.decision_id  # the same step: shed
    again = asyncio.run(plugin.decide_async(broken_state(plugin.graph, step=2)))
    assert again.step == 2 and again.decision_id != d.decision_id
    audit = (Path(plugin.audit_log)).read_text().splitlines()
    assert len(audit) == 2  # one line per decision (the shed duplicate is not audited again)


def test_plan_asks_one_planner_sync_and_async(plugin):
    state = broken_state(plugin.graph, step=3)
    mcts = plugin.plan(state, planner="mcts", seed=7)
    assert mcts.planner == "mcts" and len(mcts.actions) >= 1 and mcts.weights_version == 0
    again = asyncio.run(plugin.plan_async(state, planner="mcts", seed=7))
    assert again.actions == mcts.actions  # same seed, same plan
    cem = asyncio.run(plugin.plan_async(state, planner="cem"))
    assert cem.planner == "cem"


def test_host_api_errors_are_one_line_and_named(plugin):
    state = broken_state(plugin.graph)
    with pytest.raises(
        PlanningError, match=r"no planner named 'mtcs' \(started: \['cem', 'mcts'\]\)"
    ):
        plugin.plan(state, planner="mtcs")
    bad = state.model_dump(mode="json")
    bad["services"]["adservice"]["error_rate"] = 2.0
    with pytest.raises(StateError, match=r"services\.adservice\.error_rate"):
        plugin.decide(bad)
    with pytest.raises(StateError, match="expected a MeshState"):
        plugin.decide("not a state")


def _run(cmd, cwd, timeout=300):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_host_example_runs_from_another_directory_and_returns_both_planners(tmp_path):
    run = _run(
        [
            sys.executable,
            str(ROOT / "examples" / "host_policy.py"),
            "--json",
            "--train-steps",
            "20",
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert {n: p["status"] for n, p in result["plans"].items()} == {"cem": "ok", "mcts": "ok"}
    assert all(p["weights_version"] == 1 for p in result["plans"].values())  # trained, synced
    assert result["chosen"] in ("cem", "mcts") and "allowed" in result["guard"]
    assert result["executed"] is False and result["async_decision_id_same"] is True
    assert result["mcts_first"] and result["cem_first"]


def test_docs_host_snippet_runs_as_written(tmp_path):
    text = (ROOT / "docs" / "host.md").read_text()
    snippet = re.findall(r"```python\n(.*?)```", text, flags=re.S)[0]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "snippet.py").write_text(snippet)
    run = _run([sys.executable, "snippet.py"], cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "{'cem': 'ok', 'mcts': 'ok'}" in run.stdout, run.stdout


def test_plan_errors_are_one_line_for_both_timeouts_and_a_failure():
    import asyncio

    import ray

    from aither_wm.runtime.plugin import _plan_error

    for timeout in (ray.exceptions.GetTimeoutError("slow"), asyncio.TimeoutError()):
        e = _plan_error("mcts", timeout, 2.0)
        assert isinstance(e, PlanningError) and str(e) == "planner 'mcts' did not answer within 2 s"
    e = _plan_error("cem", ray.exceptions.RayError("actor died"), 2.0)
    assert str(e).startswith("planner 'cem' failed: RayError") and "\n" not in str(e)
