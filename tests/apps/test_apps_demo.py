"""``aither-wm demo --quick`` end to end: its own embedded Ray, training on the trainer actor,
both planner actors, autoheal episodes, report files and a loadable checkpoint."""

import json

import pytest
import ray

from aither_wm.apps.demo import run_demo
from aither_wm.train import load_checkpoint


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, monkeypatch):
    if ray.is_initialized():
        ray.shutdown()
    monkeypatch.chdir(tmp_path)  # outside the clone: the graph is found by its shipped name
    phases = []
    report = run_demo(
        tmp_path,
        quick=True,
        graph_path="online-boutique",
        seed=0,
        progress=lambda phase, info: phases.append(phase),
    )
    assert not ray.is_initialized()  # the demo shut down the Ray it started
    assert {"simulate", "train", "episodes", "weights"} <= set(phases)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert set(on_disk["planners"]) == {"cem", "mcts"} and "baseline" in on_disk
    for name in ("cem", "mcts"):
        p = on_disk["planners"][name]
        assert p["latency_ms"]["p50"] > 0 and p["latency_ms"]["p95"] >= p["latency_ms"]["p50"]
        assert p["slo_violation_minutes"] >= 0 and p["actions"] >= 0 and p["weights_version"] == 1
        assert p["statuses"]["ok"] > 0
    assert 0.0 <= on_disk["agreement"]["first_action_agreement"] <= 1.0
    assert on_disk["baseline"]["episodes"] == on_disk["planners"]["cem"]["episodes"] == 3
    for f in (
        "report.md",
        "slo_minutes.png",
        "planner_latency.png",
        "training_loss.png",
        "audit.jsonl",
    ):
        assert (tmp_path / f).stat().st_size > 0, f
    assert (tmp_path / "slo_minutes.png").read_bytes()[:4] == b"\x89PNG"
    ck = load_checkpoint(tmp_path / "world_model.pt")
    assert ck.version == 1 and ck.meta["transitions"] == report["training"]["transitions"]
    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(audit) == report["agreement"]["decisions"]
    assert report["wall_s"] > 0, report["timings_s"]  # a benchmark figure, not a test
    assert "SLO-viol" in report["summary_text"]
    assert "baseline: the reactive runbook" in report["summary_text"]  # the legend
    assert "harmful: actions that made the fault worse" in report["summary_text"]
    md = (tmp_path / "report.md").read_text()
    assert "| fault | target | cem | mcts | autoheal | baseline |" in md
    assert "![planner_latency.png](planner_latency.png)" in md
