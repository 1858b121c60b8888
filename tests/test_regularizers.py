"""Known-answer tests for SIGReg, the seed's formula and the VICReg-style penalty.

Known answers come from ../shared/reference/sigreg.md: about 1.06 on N(0, I) (the noise floor),
about 0.40 N for a batch collapsed to the origin, about 1.05 N for a random point.
"""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from aither_wm.bench.sigreg import CASES, format_table, make_case, run_sigreg_bench
from aither_wm.errors import ConfigError, ShapeError
from aither_wm.regularizers import (
    SeedSIGReg,
    SIGReg,
    SIGRegConfig,
    VICRegPenalty,
    epps_pulley,
)

FLOOR = math.sqrt(2 * math.pi) - math.sqrt(2 * math.pi / 3)  # 1.059


@pytest.fixture(autouse=True)
def _one_thread():
    """Small tensor ops are much faster on one intra-op thread (and the numbers are stable)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _hadamard(n: int) -> torch.Tensor:
    """Sylvester Hadamard matrix [n, n] (n a power of 2): +-1 entries, orthogonal columns."""
    H = torch.ones(1, 1)
    while H.shape[0] < n:
        H = torch.cat([torch.cat([H, H], 1), torch.cat([H, -H], 1)], 0)
    return H


# --- epps_pulley -------------------------------------------------------------------------------


def _epps_pulley_slow(x: list[list[float]]) -> list[float]:
    """The reference statistic, one number at a time, straight from sigreg.md."""
    N, P = len(x), len(x[0])
    s = 3.0 / 16.0
    out = []
    for p in range(P):
        total = 0.0
        for k in range(17):
            t = 3.0 * k / 16.0
            weight = (s if k in (0, 16) else 2.0 * s) * math.exp(-t * t / 2.0)
            c = sum(math.cos(t * x[n][p]) for n in range(N)) / N
            si = sum(math.sin(t * x[n][p]) for n in range(N)) / N
            total += weight * ((c - math.exp(-t * t / 2.0)) ** 2 + si**2)
        out.append(N * total)
    return out


def test_epps_pulley_equals_slow_loop() -> None:
    x = torch.tensor(
        [[0.3, -1.2, 2.0], [1.1, 0.4, 2.5], [-0.7, -0.1, 1.5], [2.2, 0.9, 3.0], [0.0, -2.0, 1.8]],
        dtype=torch.float64,
    )
    got = epps_pulley(x)
    want = torch.tensor(_epps_pulley_slow(x.tolist()), dtype=torch.float64)
    assert got.shape == (3,)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_epps_pulley_noise_floor_and_collapse() -> None:
    x = torch.randn(2000, 400, generator=_gen(1), dtype=torch.float64)
    assert abs(epps_pulley(x).mean().item() - FLOOR) < 0.1
    zeros = torch.zeros(500, 4, dtype=torch.float64)
    assert 0.38 * 500 < epps_pulley(zeros).min().item() < 0.42 * 500


@pytest.mark.parametrize("bad", [torch.zeros(5), torch.zeros(2, 3, 4), torch.zeros(1, 8)])
def test_epps_pulley_rejects_bad_shapes(bad: torch.Tensor) -> None:
    with pytest.raises(ShapeError):
        epps_pulley(bad)


# --- SIGReg known answers ----------------------------------------------------------------------


def test_sigreg_normal_is_the_noise_floor() -> None:
    z = torch.randn(256, 256, generator=_gen(2))
    value = SIGReg(num_slices=1024)(z).item()
    assert 0.8 < value < 1.35


def test_sigreg_collapse_scales_with_n() -> None:
    N = 256
    point = make_case("collapsed", N, 64, seed=3)
    assert SIGReg(num_slices=256)(point).item() >= 0.3 * N
    origin = torch.zeros(N, 64)
    assert 0.38 * N < SIGReg(num_slices=256)(origin).item() < 0.42 * N


@pytest.mark.parametrize("case", ["scaled_half", "mean_shift"])
def test_sigreg_sees_scale_and_location(case: str) -> None:
    normal = SIGReg(num_slices=256)(make_case("normal", 1000, 64, seed=4)).item()
    off = SIGReg(num_slices=256)(make_case(case, 1000, 64, seed=4)).item()
    assert off > 100 * normal


def test_axis_slices_see_per_coordinate_bimodality() -> None:
    """Diaconis-Freedman: random slices of i.i.d. +-1 coordinates look Gaussian; axes do not."""
    z = make_case("bimodal_iid", 512, 64, seed=5)
    random_only = SIGReg(num_slices=256)(z).item()
    with_axes = SIGReg(num_slices=256, use_axis_slices=True)(z).item()
    assert random_only < 2.0  # the floor (1.06 +- 0.1 over seeds)
    assert with_axes > 5 * random_only  # about 11.6


def test_sigreg_is_the_mean_of_epps_pulley_over_its_directions() -> None:
    z = torch.randn(50, 16, generator=_gen(6), dtype=torch.float64)
    reg = SIGReg(num_slices=32, use_axis_slices=True, seed=9)
    U = reg.directions(16, dtype=torch.float64)
    assert U.shape == (16, 32 + 16)
    torch.testing.assert_close(U.norm(dim=0), torch.ones(48, dtype=torch.float64))
    torch.testing.assert_close(reg(z), epps_pulley(z @ U).mean())


# --- baselines and their blind spots -----------------------------------------------------------


def test_seed_form_reproduces_its_published_values_and_misses_jitter_collapse() -> None:
    seed_form = SeedSIGReg(latent_dim=256)
    normal = seed_form(make_case("normal", 64, 256)).item()
    bimodal = seed_form(make_case("bimodal_rank1", 64, 256)).item()
    collapsed = seed_form(make_case("collapsed", 64, 256)).item()
    jitter = make_case("collapsed_jitter", 64, 256)
    assert normal < 0.01 and 0.1 < bimodal < 0.25 and 0.4 < collapsed < 0.5
    # Blind spot: standardisation turns a jittered point back into a Gaussian cloud.
    assert seed_form(jitter).item() < 0.01
    assert SIGReg(num_slices=256)(jitter).item() > 0.3 * 64
    assert seed_form(torch.zeros(3, 256)).item() == 0.0  # the seed's small-batch guard


def test_vicreg_blind_to_bimodal_with_unit_variance_and_zero_covariance() -> None:
    z = _hadamard(256)[:, 1:33].contiguous()  # [256, 32]: +-1, variance 1, covariance exactly 0
    assert VICRegPenalty()(z).item() == pytest.approx(0.0, abs=1e-9)
    assert epps_pulley(z).mean().item() > 10 * FLOOR  # every axis is two point masses
    # The seed's rank-1 "bimodal" is not zero-covariance; VICReg sees it through the covariance.
    assert VICRegPenalty()(make_case("bimodal_rank1", 256, 32)).item() > 10
    assert VICRegPenalty().compute(torch.zeros(8, 4)).item() == pytest.approx(1.0)


# --- gradients ---------------------------------------------------------------------------------


def test_gradient_flows() -> None:
    z = torch.randn(32, 16, generator=_gen(7), requires_grad=True)
    SIGReg(num_slices=64)(z).backward()
    assert z.grad is not None and z.grad.shape == (32, 16)
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_gradcheck_float64() -> None:
    reg = SIGReg(num_slices=8, use_axis_slices=True)

    def at_step_zero(z: torch.Tensor) -> torch.Tensor:
        reg.reset(0)
        return reg(z)

    z = torch.randn(6, 4, generator=_gen(8), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(at_step_zero, (z,))


def test_sigreg_alone_undoes_a_jittered_collapse() -> None:
    z = make_case("collapsed_jitter", 128, 32, seed=10).requires_grad_()
    reg = SIGReg(num_slices=256)
    opt = torch.optim.Adam([z], lr=0.1)
    first = None
    for _ in range(50):
        loss = reg(z)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        last = SIGReg(num_slices=256, seed=1)(z).item()
        spread = z.std(dim=0).mean().item()
    assert first > 0.3 * 128 and last < first / 5
    assert spread > 0.3  # from 1e-4


# --- reproducibility, state, dtype -------------------------------------------------------------


def test_same_seed_same_value_next_call_new_directions() -> None:
    z = torch.randn(64, 32, generator=_gen(11))
    a, b = SIGReg(num_slices=128, seed=3), SIGReg(num_slices=128, seed=3)
    first = a(z)
    assert torch.equal(first, b(z))
    assert a.step == 1
    second = a(z)
    assert not torch.equal(first, second)
    assert not torch.equal(first, SIGReg(num_slices=128, seed=4)(z))
    a.reset()
    assert torch.equal(a.compute(z), first)
    c = SIGReg(num_slices=128, seed=3)
    c.load_state_dict(a.state_dict())  # the step counter travels in the state dict
    assert c.step == a.step == 1
    assert torch.equal(c(z), second)


def test_dtype_follows_input() -> None:
    z = torch.randn(40, 8, generator=_gen(12), dtype=torch.float64)
    out64 = SIGReg(num_slices=16)(z)
    out32 = SIGReg(num_slices=16)(z.float())
    assert out64.dtype == torch.float64 and out32.dtype == torch.float32 and out64.dim() == 0
    assert abs(out64.item() - out32.item()) < 1e-4  # same directions for both
    assert SIGReg(num_slices=16)(z.bfloat16()).dtype == torch.float32
    assert epps_pulley(z).dtype == torch.float64


@pytest.mark.parametrize("bad", [torch.zeros(8), torch.zeros(2, 8, 4), torch.zeros(1, 8)])
def test_sigreg_rejects_bad_shapes(bad: torch.Tensor) -> None:
    with pytest.raises(ShapeError):
        SIGReg(num_slices=4)(bad)
    with pytest.raises(ShapeError):
        SIGReg(num_slices=4)(torch.zeros(4, 3, dtype=torch.long))


def test_config_validation() -> None:
    assert SIGReg(SIGRegConfig(num_slices=7), seed=5).config == SIGRegConfig(num_slices=7, seed=5)
    with pytest.raises(ConfigError):
        SIGReg(num_slices=0)
    with pytest.raises(ValidationError):
        SIGRegConfig(num_slices=16, slices=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SIGRegConfig().num_slices = 3  # type: ignore[misc]
    with pytest.raises(ShapeError):
        SeedSIGReg(latent_dim=8)(torch.zeros(10, 9))


# --- bench -------------------------------------------------------------------------------------


def test_bench_reports_every_case() -> None:
    result = run_sigreg_bench(ns=(64,), num_slices=128)
    assert result["dim"] == 256 and result["num_slices"] == 128
    rows = {r["case"]: r for r in result["rows"]}
    assert tuple(rows) == CASES and len(CASES) == 9
    for r in result["rows"]:
        assert set(r) == {"n", "case", "sigreg", "sigreg_axes", "seed_form", "vicreg"}
        assert r["n"] == 64
    assert rows["normal"]["sigreg"] < rows["collapsed"]["sigreg"]
    assert "| 64 | normal |" in format_table(result)
