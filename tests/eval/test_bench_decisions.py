"""``aither-wm bench decisions`` end to end on a tiny recipe: the exam's fields for the raw
model, CEM and MCTS, and the report line of the thresholds selected in closed loop."""

from eval_helpers import TINY_RECIPE

from aither_wm.bench.decisions import format_decisions, run_decisions_bench


def test_bench_decisions_tiny():
    r = run_decisions_bench("graphs/online-boutique.json", recipe=TINY_RECIPE, quick=True)
    assert r["states"] > 0 and r["candidates_per_state"] > 1
    for who in ("model", "cem", "mcts"):
        overall = r[who]["overall"]
        assert overall["n"] == r["states"] and 0.0 <= overall["hit_rate"] <= 1.0
        assert overall["regret"] >= 0.0
    text = format_decisions(r)
    assert "| overall |" in text and "Selected in closed loop" in text
