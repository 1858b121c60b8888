"""Confidence intervals over seeds: Student-t intervals of a mean and of a paired difference.

>>> mean_ci([1.0, 2.0, 3.0, 4.0, 5.0]).to_dict()
{'mean': 3.0, 'ci95': [1.037, 4.963], 'n': 5}

Seeds are few (5-10), so the interval uses Student's t with n - 1 degrees of freedom, not the
normal 1.96. ``scipy`` is not a dependency: the two-sided 95 % quantiles are tabulated below (to 3
decimals, interpolated in 1/df between table rows, which is exact to about 1e-3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from aither_wm.errors import ConfigError

__all__ = ["Interval", "mean_ci", "paired_diff_ci", "t_quantile_975"]

#: Two-sided 95 % quantiles t_{0.975, df} of Student's t.
_T975: dict[int, float] = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
    10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110,
    18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060,
    26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}  # fmt: skip
_Z975 = 1.960


def t_quantile_975(df: int) -> float:
    """t_{0.975} with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ConfigError(f"degrees of freedom must be >= 1, got {df}")
    if df in _T975:
        return _T975[df]
    keys = sorted(_T975)
    if df > keys[-1]:
        lo_df, lo_t, hi_inv, hi_t = keys[-1], _T975[keys[-1]], 0.0, _Z975
    else:
        lo_df = max(k for k in keys if k < df)
        hi = min(k for k in keys if k > df)
        lo_t, hi_inv, hi_t = _T975[lo_df], 1.0 / hi, _T975[hi]
    # linear in 1/df between the neighbouring rows (1/inf = 0 for the normal limit)
    lo_inv = 1.0 / lo_df
    frac = (lo_inv - 1.0 / df) / (lo_inv - hi_inv)
    return lo_t + frac * (hi_t - lo_t)


@dataclass(frozen=True)
class Interval:
    """A mean and its 95 % confidence interval.

    Attributes:
        mean: the sample mean.
        low, high: the interval's ends (None with fewer than 2 values).
        n: values behind it.
    """

    mean: float
    low: float | None
    high: float | None
    n: int

    def to_dict(self, ndigits: int = 3) -> dict[str, object]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, ndigits)

        return {"mean": r(self.mean), "ci95": [r(self.low), r(self.high)], "n": self.n}

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.mean:.3g}"
        return f"{self.mean:.3g} [{self.low:.3g}, {self.high:.3g}]"


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean of ``values`` with a Student-t ``confidence`` interval (only 0.95 is tabulated).

    Raises:
        ConfigError: no values, a non-finite value, or another confidence level.
    """
    if confidence != 0.95:
        raise ConfigError(f"only 95 % intervals are tabulated, got confidence={confidence}")
    xs = [float(v) for v in values]
    if not xs:
        raise ConfigError("mean_ci needs at least one value")
    if not all(math.isfinite(x) for x in xs):
        raise ConfigError(f"mean_ci needs finite values, got {xs}")
    n = len(xs)
    mean = math.fsum(xs) / n
    if n < 2:
        return Interval(mean, None, None, n)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    half = t_quantile_975(n - 1) * math.sqrt(var / n)
    return Interval(mean, mean - half, mean + half, n)


def paired_diff_ci(a: Sequence[float], b: Sequence[float]) -> Interval:
    """Mean of ``a[i] - b[i]`` with its 95 % interval (paired by seed: the same scenarios).

    Raises:
        ConfigError: the sequences differ in length (or see :func:`mean_ci`).
    """
    if len(a) != len(b):
        raise ConfigError(f"paired samples must have equal lengths, got {len(a)} and {len(b)}")
    return mean_ci([float(x) - float(y) for x, y in zip(a, b, strict=True)])
