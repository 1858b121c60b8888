"""Operator metrics: the tag rules (known answers), and the metrics read back from Ray's own
Prometheus endpoint during a short ``aither-wm run`` (decisions by planner and outcome, plan and
decision latency histograms, guard refusals by reason, trainer runs, version and loss); the
Grafana dashboard in deploy/ asks only for metrics that exist."""

import json
import os
import re
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import ray
from runtime_helpers import CEM_SMALL, MCTS_SMALL, RT, TINY, TINY_TRAIN

from aither_wm.apps.service import run_service
from aither_wm.runtime import PlannerSpec, PluginConfig, ServiceConfig
from aither_wm.runtime.host import _metrics_url
from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS
from aither_wm.runtime.metrics import METRIC_NAMES, decision_outcome, refusal_reason

ROOT = Path(__file__).resolve().parents[2]


def test_refusal_reasons_and_outcomes_have_known_tags():
    assert refusal_reason("cooldown: 'cart' was acted on at step 3, 2 more step(s)") == "cooldown"
    assert refusal_reason("type 'restart' is not allowed (allowed: ['scale_out'])") == "type"
    assert refusal_reason("service 'db' is protected") == "protected"
    assert refusal_reason("rate: 4 action(s) in the last 20 steps (limit 4)") == "rate"
    assert refusal_reason("blast radius: 3 service(s) already touched") == "blast_radius"
    assert refusal_reason("something new") == "other"
    base = {"error": None, "executed": False, "action": {"type": "restart"}}
    assert decision_outcome({**base, "guard": {"allowed": True}}) == "dry_run"
    assert decision_outcome({**base, "executed": True, "guard": {"allowed": True}}) == "executed"
    assert decision_outcome({**base, "guard": {"allowed": False}}) == "refused"
    assert decision_outcome({**base, "action": {"type": "noop"}, "guard": {"allowed": True}}) == (
        "noop"
    )
    assert decision_outcome({**base, "error": "boom", "guard": {"allowed": True}}) == "error"


@pytest.fixture
def fast_metrics_ray(monkeypatch):
    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.setenv("RAY_metrics_report_interval_ms", "500")  # Ray's default: 10 s
    site = ROOT / "plugins"
    ray.init(
        address="local",  # never join another Ray running on this host
        num_cpus=2,
        object_store_memory=150 * 1024 * 1024,
        include_dashboard=False,
        namespace="aither_wm_metrics_test",
        runtime_env={"env_vars": {"PYTHONPATH": str(site)}},
    )
    yield
    ray.shutdown()


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    out = []
    for line in text.splitlines():
        m = re.match(rf"^{name}\{{(.*)\}} ([-+.\deE]+|NaN)$", line)
        if m:
            tags = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            out.append((tags, float(m.group(2))))
    return out


def test_metrics_are_read_back_from_rays_endpoint_during_a_run(tmp_path, fast_metrics_ray):
    url = _metrics_url()
    assert url and url.endswith("/metrics")
    plugin = PluginConfig(
        graph="online-boutique",
        runtime=RT.model_copy(update={"namespace": "aither_wm_metrics_test"}),
        model=TINY,
        train=TINY_TRAIN,
        checkpoint=str(tmp_path / "wm.pt"),
        trainer_transitions_log=None,
        planners={
            "cem": PlannerSpec(kind="cem", config=CEM_SMALL),
            "mcts": PlannerSpec(kind="mcts", config=MCTS_SMALL),
        },
        poll_interval_s=0.2,
    )
    cfg = ServiceConfig.model_validate(
        {
            "plugin": plugin.model_dump(mode="json"),
            "state_source": {"name": "sim", "options": {"seed": 2, "fault_rate": 0.3}},
            # a long cooldown: the guard refuses (its verdict counts in dry-run too); a long
            # deadline: on one core a planner would often miss a 1 s one
            "controller": {"deadline_ms": 10_000, "guard": {"cooldown_steps": 50}},
            "interval_s": 0.05,
            "max_ticks": 3000,
            "min_transitions": 24,
            "train_steps": 10,
            "ingest_batch": 8,
            "audit_log": str(tmp_path / "audit.jsonl"),
            "transitions_log": str(tmp_path / "transitions.jsonl"),
            "plugin_allow": list(FIRST_PARTY_ENTRY_POINTS),
        }
    )
    stop = threading.Event()
    seen = {"text": "", "polled": 0.0}

    def on_decision(record):
        """Poll the endpoint (at most twice a second) while the run goes on; stop once every
        metric shows what the run has done: decisions, both planners' latencies, a refusal, a
        published training run. The run keeps deciding until then (an event, not a sleep)."""
        if time.monotonic() - float(seen["polled"]) < 0.5:
            return
        seen["polled"] = time.monotonic()
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        if _complete(text):
            seen["text"] = text
            stop.set()

    summary = run_service(config=cfg, stop=stop, on_decision=on_decision)
    text = str(seen["text"])
    assert text, f"the aither metrics never all appeared in {summary['ticks']} decisions"
    assert {
        n for n in METRIC_NAMES if re.search(rf"^{n}(_bucket|_count|_sum)?\{{", text, re.M)
    } == (set(METRIC_NAMES))
    decisions = _samples(text, "ray_aither_decisions_total")
    assert {t["planner"] for t, _ in decisions} >= {"fallback"}
    assert {t["outcome"] for t, _ in decisions} <= {
        "executed",
        "dry_run",
        "refused",
        "noop",
        "error",
    }
    refusals = _samples(text, "ray_aither_guard_refusals_total")
    tags = {t["reason"] for t, v in refusals if v > 0}
    assert tags and tags <= {"type", "protected", "cooldown", "rate", "blast_radius"}, tags
    assert max(v for _, v in _samples(text, "ray_aither_trainer_version")) >= 1


def _complete(text: str) -> bool:
    """Every aither metric on the endpoint shows the run's work."""
    decided = {t["planner"] for t, v in _samples(text, "ray_aither_decisions_total") if v > 0}
    refused = [
        v for t, v in _samples(text, "ray_aither_decisions_total") if t["outcome"] == "refused"
    ]
    timed = {t["planner"] for t, v in _samples(text, "ray_aither_plan_latency_ms_count") if v > 0}
    runs = [
        v for t, v in _samples(text, "ray_aither_trainer_runs_total") if t["verdict"] == "published"
    ]
    present = all(re.search(rf"^{n}(_bucket|_count|_sum)?\{{", text, re.M) for n in METRIC_NAMES)
    return (
        present
        and "fallback" in decided
        and bool(decided & {"cem", "mcts"})  # a plan from trained weights was used
        and any(v > 0 for v in refused)
        and timed == {"cem", "mcts"}
        and any(v >= 1 for v in runs)
    )


def test_grafana_dashboard_asks_only_for_exported_metrics():
    board = json.loads((ROOT / "deploy" / "grafana-aither.json").read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 6
    used = set()
    for e in exprs:
        used |= set(re.findall(r"ray_aither_\w+", e))
    known = (
        set(METRIC_NAMES)
        | {f"{n}_bucket" for n in METRIC_NAMES}
        | {f"{n}_count" for n in METRIC_NAMES}
        | {f"{n}_sum" for n in METRIC_NAMES}
    )
    assert used and used <= known, used - known
    assert {n for n in METRIC_NAMES if any(n in u for u in used)} == set(METRIC_NAMES)
    assert os.path.basename("deploy/grafana-aither.json") in (ROOT / "README.md").read_text()
