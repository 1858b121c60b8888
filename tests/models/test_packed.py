"""PackedPredictor: the planners' packed form of the predictor matches the module it came from."""

import pytest
import torch

from aither_wm.config import PredictorConfig
from aither_wm.errors import ConfigError, ShapeError
from aither_wm.models.packed import (
    AUTO_BF16_MIN_WIDTH,
    MIN_BF16_ROWS,
    PackedPredictor,
    padded_rows,
    resolve_precision,
)
from aither_wm.models.predictor import LatentPredictor

D, K, A = 32, 9, 8


def _predictor(
    width: int = 16, blocks: int = 2, seed: int = 0, activation: str = "gelu"
) -> tuple[LatentPredictor, torch.Tensor]:
    """A predictor with every weight random (zero-initialised layers and norms included)."""
    torch.manual_seed(seed)
    cfg = PredictorConfig(hidden_dim=width, num_blocks=blocks, action_dim=A, activation=activation)
    p = LatentPredictor(D, cfg).eval()
    with torch.no_grad():
        for prm in p.parameters():
            prm.normal_(0.0, 0.3)
        table = p.condition(torch.randn(K, A))  # [K, 3 * blocks * W]
    return p, table


@pytest.mark.parametrize(("blocks", "activation"), [(1, "gelu"), (3, "gelu"), (2, "silu")])
def test_fp32_packing_matches_the_predictor(blocks, activation):
    p, table = _predictor(blocks=blocks, activation=activation)
    packed = PackedPredictor(p, table, "fp32")
    z, a = torch.randn(40, D), torch.randint(0, K, (40,))
    with torch.no_grad():
        ref = p.forward_conditioned(z, table[a])
    out = packed.step(z, a)
    assert out.dtype == torch.float32 and out.shape == (40, D)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_bf16_packing_is_close_pads_without_changing_rows_and_runs_small_batches_in_fp32():
    p, table = _predictor(width=32)
    bf16, fp32 = PackedPredictor(p, table, "bf16"), PackedPredictor(p, table, "fp32")
    assert bf16.precision == "bf16"
    B = 70  # padded to 96 rows inside
    z, a = torch.randn(B, D), torch.randint(0, K, (B,))
    exact = fp32.step(z, a)
    out = bf16.step(z, a)
    assert out.dtype == torch.float32 and out.shape == (B, D)
    delta = exact - z  # what the predictor adds; bf16 error is relative to it
    err = (out - exact).norm(dim=-1) / delta.norm(dim=-1)
    assert float(err.max()) < 0.05
    assert not torch.equal(out, exact)  # it really ran in bf16
    # a row's prediction does not depend on the rows padded or batched beside it
    torch.testing.assert_close(bf16.step(z[:60], a[:60]), out[:60], rtol=0, atol=1e-6)
    # below MIN_BF16_ROWS the fp32 copy runs: identical to the fp32 packing
    small = MIN_BF16_ROWS - 1
    assert torch.equal(bf16.step(z[:small], a[:small]), exact[:small])


def test_padded_rows_buckets():
    assert [padded_rows(n) for n in (1, 32, 33, 300, 512, 513, 1000)] == [
        32,
        32,
        64,
        320,
        512,
        640,
        1024,
    ]


def test_precision_resolution_and_bad_input():
    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert (
        resolve_precision("auto", "cpu", AUTO_BF16_MIN_WIDTH // 2) == "fp32"
    )  # too narrow to gain
    assert resolve_precision("auto", "cpu", AUTO_BF16_MIN_WIDTH) in ("fp32", "bf16")
    with pytest.raises(ConfigError, match="precision"):
        resolve_precision("fp16")
    p, table = _predictor()
    with pytest.raises(ShapeError, match="table"):
        PackedPredictor(p, table[:, :-1])


def test_the_activation_is_part_of_the_function():
    """Same weights, other activation: another function (so a checkpoint must carry it)."""
    (gelu, table), (silu, _) = _predictor(activation="gelu"), _predictor(activation="silu")
    z, a = torch.randn(8, D), torch.randint(0, K, (8,))
    with torch.no_grad():
        assert not torch.allclose(
            gelu.forward_conditioned(z, table[a]), silu.forward_conditioned(z, table[a])
        )
    assert isinstance(silu.blocks[0].mlp[1], torch.nn.SiLU)
