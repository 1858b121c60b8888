"""Lambda trials run as real Ray tasks and come back judged."""

import pytest
from runtime_helpers import TINY

from aither_wm.config import TrainConfig
from aither_wm.graph import load_graph
from aither_wm.runtime.tune import tune_lambda
from aither_wm.train.toy import toy_transitions


@pytest.mark.usefixtures("ray_session")
def test_trials_run_as_parallel_ray_tasks_and_a_pick_is_returned():
    g = load_graph("graphs/online-boutique.json")
    result = tune_lambda(g, toy_transitions(g, steps=200, seed=0), model_config=TINY,
                         train_config=TrainConfig(steps=15, batch_size=16, num_slices=32, warmup_steps=2),
                         max_trials=2, parallel=2)  # fmt: skip
    assert len(result["trials"]) <= 2 and result["trials"]
    lams = [t["lam"] for t in result["trials"]]
    assert all(1e-3 < lam < 10.0 for lam in lams)
    assert result["pick"] in lams
    assert all(t["verdict"] in ("collapsed", "too_high_error", "ok") for t in result["trials"])
