"""``run_sim_bench`` on a tiny budget: the report's shape and sanity."""

import json

from aither_wm.bench.sim import run_sim_bench


def test_sim_bench_reports_throughput_and_scaling():
    report = run_sim_bench(steps=4, sizes=(10, 40, 80), generated=60)
    json.dumps(report)
    names = [r["graph"] for r in report["graphs"]]
    assert names == ["deathstarbench-socialnetwork", "generated-60-s0"]
    for row in report["graphs"] + report["scaling"]:
        assert row["physics_steps_per_s"] > 0 and row["full_steps_per_s"] > 0
    assert [r["services"] for r in report["scaling"]] == [10, 40, 80]
    assert report["scaling"][0]["cost_ratio_physics"] == 1.0
    assert isinstance(report["scaling_slope"]["physics"], float)
