"""``aither-wm bench decisions`` end to end on a tiny recipe: the exam's fields for the raw
model, CEM and MCTS, and the report line of the thresholds selected in closed loop."""

from eval_helpers import TINY

from aither_wm.bench.control_model import ControlRecipe
from aither_wm.bench.decisions import format_decisions, run_decisions_bench
from aither_wm.config import ControlModelConfig
from aither_wm.eval.control_fit import ControlFitConfig

TINY_RECIPE = ControlRecipe(
    model=ControlModelConfig(world=TINY, value_horizon=3),
    fit=ControlFitConfig(steps=3, batch_windows=2, batch_sets=2, rollout_steps=2),
    train_episodes=4,
    branch_episodes=3,
    episode_steps=8,
    branch_every=3,
    workers=1,
    calibration_episodes=2,
    selection_seeds=1,
    selection_steps=6,
)


def test_bench_decisions_tiny():
    r = run_decisions_bench("graphs/online-boutique.json", recipe=TINY_RECIPE, quick=True)
    assert r["states"] > 0 and r["candidates_per_state"] > 1
    for who in ("model", "cem", "mcts"):
        overall = r[who]["overall"]
        assert overall["n"] == r["states"] and 0.0 <= overall["hit_rate"] <= 1.0
        assert overall["regret"] >= 0.0
    text = format_decisions(r)
    assert "| overall |" in text and "Selected in closed loop" in text
