"""``aither-wm bench sigreg``: the regularisers on named distributions with known behaviour.

Each case is a batch Z [N, D] built from a seeded generator; every regulariser scores it once:
``sigreg`` (random slices), ``sigreg_axes`` (random + axis slices), ``seed_form`` (the seed post's
formula) and ``vicreg`` (variance + covariance). SIGReg instances are fresh per case, so every case
is scored on the same directions (step 0).

Cases (D coordinates, N rows):
  normal            N(0, I): the target; SIGReg's noise floor is about 1.06.
  collapsed         every row one random point c ~ N(0, I).
  collapsed_jitter  c + 1e-4 N(0, I) noise.
  bimodal_rank1     row i = s_i v, s_i = +-1, v a fixed random +-1 vector (the seed's "bimodal").
  bimodal_iid       every coordinate independently +-1 (variance 1, covariance about 0).
  low_rank4         A W, A [N, 4] ~ N(0, 1), W [4, D] ~ N(0, 1/4): rank 4, variance about 1.
  scaled_half       N(0, 0.25 I).
  mean_shift        N(1, I).
  student_t3        Student-t with 3 degrees of freedom per coordinate (variance 3, heavy tails).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from aither_wm.errors import ConfigError
from aither_wm.regularizers import SeedSIGReg, SIGReg, VICRegPenalty

__all__ = ["CASES", "format_table", "make_case", "run_sigreg_bench"]

CASES: tuple[str, ...] = (
    "normal",
    "collapsed",
    "collapsed_jitter",
    "bimodal_rank1",
    "bimodal_iid",
    "low_rank4",
    "scaled_half",
    "mean_shift",
    "student_t3",
)


def _signs(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=gen).float() * 2.0 - 1.0


def _collapsed(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(1, d, generator=gen).expand(n, d).clone()  # [N, D]


def _student_t3(n: int, d: int, gen: torch.Generator) -> torch.Tensor:
    chi2 = torch.randn(3, n, d, generator=gen).pow(2).sum(dim=0)  # [N, D], chi-square(3)
    return torch.randn(n, d, generator=gen) / torch.sqrt(chi2 / 3.0)


_BUILDERS: dict[str, Callable[[int, int, torch.Generator], torch.Tensor]] = {
    "normal": lambda n, d, g: torch.randn(n, d, generator=g),
    "collapsed": _collapsed,
    "collapsed_jitter": lambda n, d, g: _collapsed(n, d, g) + 1e-4 * torch.randn(n, d, generator=g),
    "bimodal_rank1": lambda n, d, g: _signs((n, 1), g) * _signs((1, d), g),  # [N, D], rank 1
    "bimodal_iid": lambda n, d, g: _signs((n, d), g),
    "low_rank4": lambda n, d, g: (
        torch.randn(n, 4, generator=g) @ (0.5 * torch.randn(4, d, generator=g))
    ),
    "scaled_half": lambda n, d, g: 0.5 * torch.randn(n, d, generator=g),
    "mean_shift": lambda n, d, g: 1.0 + torch.randn(n, d, generator=g),
    "student_t3": _student_t3,
}


def make_case(case: str, n: int, dim: int, *, seed: int = 0) -> torch.Tensor:
    """The batch of a named case.

    Shape:
        returns [n, dim] float32.
    """
    if case not in _BUILDERS:
        raise ConfigError(f"unknown case {case!r}; expected one of {', '.join(CASES)}")
    return _BUILDERS[case](n, dim, torch.Generator().manual_seed(seed))


@torch.no_grad()
def run_sigreg_bench(
    ns: tuple[int, ...] = (64, 1000), dim: int = 256, num_slices: int = 1024, seed: int = 0
) -> dict:
    """Score every case at every batch size with the four regularisers.

    Returns ``{"rows": [{"n", "case", "sigreg", "sigreg_axes", "seed_form", "vicreg"}, ...],
    "dim", "num_slices"}``, JSON-able. The seed form uses ``num_slices`` fixed directions and its
    default grid (20 points on [-1.9, 1.9]).
    """
    seed_form = SeedSIGReg(latent_dim=dim, num_projections=num_slices, seed=seed)
    vicreg = VICRegPenalty()
    rows = []
    for n in ns:
        for i, case in enumerate(CASES):
            z = make_case(case, n, dim, seed=seed * 1000 + i)  # [N, D]
            rows.append(
                {
                    "n": n,
                    "case": case,
                    "sigreg": SIGReg(num_slices=num_slices, seed=seed)(z).item(),
                    "sigreg_axes": SIGReg(num_slices=num_slices, use_axis_slices=True, seed=seed)(
                        z
                    ).item(),
                    "seed_form": seed_form(z).item(),
                    "vicreg": vicreg(z).item(),
                }
            )
    return {"rows": rows, "dim": dim, "num_slices": num_slices}


def _fmt(x: float) -> str:
    return f"{x:.4f}" if abs(x) < 10 else f"{x:.1f}"


def format_table(result: dict) -> str:
    """A markdown table of :func:`run_sigreg_bench`'s result."""
    lines = [
        f"D = {result['dim']}, P = {result['num_slices']} slices",
        "",
        "| N | case | SIGReg | SIGReg + axes | seed form | VICReg |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        cells = (r["sigreg"], r["sigreg_axes"], r["seed_form"], r["vicreg"])
        lines.append(f"| {r['n']} | {r['case']} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return "\n".join(lines)
