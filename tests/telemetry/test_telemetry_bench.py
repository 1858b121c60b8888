"""The bench's pieces on known answers: the robust-z localiser blames the service that moved, the
batched counterfactual shares equal a slow loop, the world model beats "nothing changes" on
held-out real minutes, the replay source plays a folder, and the CLI refuses bad input in one
line."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from telemetry_helpers import write_day

from aither_wm.bench.telemetry.folds import day_inputs, noop_transitions
from aither_wm.bench.telemetry.normalise import Standardizer, rolling_deviation
from aither_wm.bench.telemetry.scoring import rank_of
from aither_wm.bench.telemetry.signals import (
    encode_days,
    noop_embedding,
    robust_z_ranking,
    service_surprise,
)
from aither_wm.cli import main
from aither_wm.config import (
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.graph.features import STRUCT_DIM
from aither_wm.models.world_model import WorldModel
from aither_wm.telemetry import read_telemetry
from aither_wm.train import fit

SHIPPED = Path(__file__).resolve().parents[2] / "datasets" / "nezha-online-boutique"
SMALL = WorldModelConfig(
    encoder=EncoderConfig(d_model=32, num_layers=1, num_heads=2, embed_dim=48),
    projector=ProjectorConfig(hidden_dim=64, latent_dim=16),
    predictor=PredictorConfig(hidden_dim=64, num_blocks=1, action_dim=8),
)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two threads on a busy 2-core machine are several times slower
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def day_one():
    tel = read_telemetry(SHIPPED)
    return day_inputs(tel.days[0], guard_steps=10)


def test_rank_of_counts_ties_against_the_target():
    assert rank_of(np.array([0.1, 0.9, 0.5]), 1) == 1
    assert rank_of(np.array([0.5, 0.9, 0.5]), 0) == 3


def test_robust_z_localiser_blames_the_service_that_moved():
    rng = np.random.default_rng(0)
    T, N, M = 60, 5, 4
    x = np.concatenate([np.zeros((T, N, STRUCT_DIM)), rng.normal(0, 0.1, (T, N, M))], -1)
    x[40:, 3, STRUCT_DIM + 1] += 2.0  # service 3's second metric jumps at interval 40
    assert rank_of(robust_z_ranking(x, 40, before=30, after=5), 3) == 1


def test_rolling_deviation_is_causal_and_zero_on_a_constant_series():
    x = torch.ones(20, 3, STRUCT_DIM + 2)
    x[10:, 1, STRUCT_DIM] = 4.0
    d = rolling_deviation(x, window=5)  # [T, N, M]
    assert d.shape == (20, 3, 2)
    assert float(d[:10].abs().max()) == 0.0
    assert float(d[10, 1, 0]) == 3.0  # the past 5 intervals held 1: the jump shows in full
    assert float(d[15, 1, 0]) == 0.0  # 5 intervals later it is the new normal


def test_world_model_beats_nothing_changes_and_its_counterfactual_shares_match_a_slow_loop(day_one):
    """Trained on the first fault-free minutes of the shipped day, tested on later ones."""
    rows = np.flatnonzero(day_one.fault_free[:-1] & day_one.fault_free[1:])
    train_rows, held = rows[:400], rows[-200:]
    norm = Standardizer.fit(day_one.x, torch.as_tensor(train_rows), window=60)
    inp = type(day_one)(
        day_one.day, norm.apply(day_one.x), day_one.rel, day_one.onsets, day_one.fault_free
    )
    torch.manual_seed(0)
    model = WorldModel(SMALL)
    fit(
        model,
        noop_transitions(inp, train_rows),
        TrainConfig(steps=120, seed=0, holdout_fraction=0.0),
    )
    model.eval()
    z = encode_days(model, inp.x, inp.rel)  # [T, D]
    a = noop_embedding(model, inp.x, inp.rel)
    idx = torch.as_tensor(held)
    with torch.inference_mode():
        pred = float((model.predict(z[idx], a.expand(len(held), -1)) - z[idx + 1]).pow(2).mean())
    copy = float((z[idx] - z[idx + 1]).pow(2).mean())
    assert pred < 0.9 * copy, (pred, copy)
    # the batched counterfactual shares equal a slow loop, one re-encoded state at a time
    steps = held[[10, 60, 120]]
    fast = service_surprise(model, inp.x, inp.rel, z, a, steps, horizon=4)  # [S, N]
    N = inp.x.shape[1]
    for row, t in enumerate(steps):
        zz = z[t - 4 : t - 3]
        with torch.inference_mode():
            for _ in range(4):
                zz = model.predict(zz, a)
        base = float((encode_days(model, inp.x[t : t + 1], inp.rel) - zz).pow(2).mean())
        for i in range(N):
            xc = inp.x[t : t + 1].clone()
            xc[0, i, STRUCT_DIM:] = 0.0
            s_i = float((encode_days(model, xc, inp.rel) - zz).pow(2).mean())
            assert fast[row, i] == pytest.approx(base - s_i, rel=1e-3, abs=1e-5)
    # a service already at its own recent past gets exactly no share
    x = inp.x.clone()
    t = int(held[50])
    x[t, 2, STRUCT_DIM:] = 0.0
    zx = encode_days(model, x, inp.rel)
    share = service_surprise(model, x, inp.rel, zx, a, np.array([t]), horizon=4)[0]  # [N]
    assert abs(share[2]) < 1e-6


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aither_wm.cli", "bench", "telemetry", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    assert main(["bench", "telemetry", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and "not a folder" in err[0]
    write_day(tmp_path / "one")
    assert main(["bench", "telemetry", "--data", str(tmp_path / "one"), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "two days" in err[-1] and "Traceback" not in "\n".join(err)
    bad = tmp_path / "graph.json"
    bad.write_text("{")
    assert main(["bench", "telemetry", "--data", str(SHIPPED), "--graph", str(bad)]) == 2
    assert "graph.json" in capsys.readouterr().err


def test_replay_source_plays_a_folder_through_the_registry(tmp_path):
    from aither_wm.registry import build_registry

    write_day(tmp_path, steps=5)
    reg = build_registry(allow={"aither-telemetry"})
    src = reg.create("state_source", "telemetry", None, path=str(tmp_path), speed=0)
    states = [src.observe() for _ in range(5)]
    assert [s.step for s in states] == [0, 1, 2, 3, 4]
    assert set(states[0].services) == {"alpha", "beta"}
    with pytest.raises(StopIteration):
        src.observe()
    looped = reg.create("state_source", "telemetry", None, path=str(tmp_path), loop=True, start=4)
    assert [looped.observe().step for _ in range(3)] == [4, 0, 1]
