"""The collapse ablation: without a regulariser the latent shrinks to a point; SIGReg prevents it."""

import torch

from aither_wm.bench.ablation import format_ablation, run_ablation
from aither_wm.config import (
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.graph import load_graph
from aither_wm.train import TransitionDataset
from aither_wm.train.toy import toy_transitions

SMALL = WorldModelConfig(
    encoder=EncoderConfig(d_model=48, num_layers=2, num_heads=4, embed_dim=96),
    projector=ProjectorConfig(hidden_dim=128, latent_dim=32),
    predictor=PredictorConfig(hidden_dim=96, num_blocks=2, action_dim=32),
)


def test_no_regulariser_collapses_and_sigreg_does_not():
    torch.set_num_threads(1)
    g = load_graph("graphs/online-boutique.json")
    data = TransitionDataset.from_transitions(toy_transitions(g, steps=800, seed=0), {g.name: g})
    cfg = TrainConfig(steps=200, batch_size=32, num_slices=128, lr=2e-3)
    result = run_ablation(g, data, model_config=SMALL, train_config=cfg, setups=("sigreg", "none"))
    rows = {r["setup"]: r for r in result["rows"]}
    assert not rows["sigreg"]["collapsed"], format_ablation(result)
    assert rows["none"]["collapsed"], format_ablation(result)
    # the collapsed model "wins" on prediction loss: the reason loss alone cannot be trusted
    assert rows["none"]["final_pred_loss"] < rows["sigreg"]["final_pred_loss"]
    assert rows["sigreg"]["latent_var"] > 20 * rows["none"]["latent_var"]
