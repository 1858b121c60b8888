"""Continuous retraining publishes a new version only when it is not worse on held-out data."""

import torch
from runtime_helpers import TINY

from aither_wm.config import TrainConfig
from aither_wm.graph import load_graph
from aither_wm.runtime.services import TrainerService, TrainerSettings
from aither_wm.train import load_checkpoint
from aither_wm.train.toy import toy_transitions


def test_a_worse_retrained_model_is_not_published(tmp_path):
    torch.manual_seed(0)
    g = load_graph("graphs/online-boutique.json")
    ck = tmp_path / "wm.pt"
    settings = TrainerSettings(
        model=TINY, train=TrainConfig(steps=60, batch_size=32, num_slices=64, lr=2e-3),
        checkpoint_path=str(ck), transitions_log=str(tmp_path / "t.jsonl"),
    )  # fmt: skip
    svc = TrainerService(settings, [g])
    svc.ingest(toy_transitions(g, steps=400, seed=0))
    first = svc.train()
    assert first["published"] and first["version"] == 1
    v1_weights = {k: v.clone() for k, v in svc.weights()[1].items()}

    # a run that wrecks the model (absurd learning rate, no regulariser) must not be published
    bad = svc.train(steps=30, overrides={"lr": 50.0, "regularizer": "none", "grad_clip": 1e6})
    assert not bad["published"], bad["gate"]
    version, weights = svc.weights()
    assert version == 1 and all(torch.equal(weights[k], v1_weights[k]) for k in v1_weights)
    assert load_checkpoint(ck).version == 1  # the checkpoint on disk is still the good one

    # an ordinary retrain on more data passes the gate and becomes version 2
    svc.ingest(toy_transitions(g, steps=200, seed=1))
    good = svc.train(steps=60)
    assert good["published"] and good["version"] == 2, good["gate"]
    assert svc.weights()[0] == 2 and load_checkpoint(ck).version == 2

    # a restarted trainer resumes from the checkpoint and the log: nothing lost
    again = TrainerService(settings, [g])
    assert again.version == 2 and again.num_transitions == 600
