"""Confidence intervals on known data."""

import math

import pytest

from aither_wm.errors import ConfigError
from aither_wm.eval.stats import mean_ci, paired_diff_ci, t_quantile_975


def test_mean_ci_known_answer():
    # mean 3, sd sqrt(2.5), se sqrt(0.5), t_{0.975, 4} = 2.776: half-width 1.963
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci.mean == 3.0 and ci.n == 5
    assert ci.low == pytest.approx(3.0 - 2.776 * math.sqrt(0.5), abs=1e-9)
    assert ci.high == pytest.approx(3.0 + 2.776 * math.sqrt(0.5), abs=1e-9)
    assert ci.to_dict() == {"mean": 3.0, "ci95": [1.037, 4.963], "n": 5}


def test_constant_values_have_a_zero_width_interval_and_one_value_none():
    ci = mean_ci([2.5] * 6)
    assert ci.low == ci.high == 2.5
    one = mean_ci([7.0])
    assert one.mean == 7.0 and one.low is None and one.high is None


def test_paired_difference_uses_the_differences():
    a, b = [3.0, 5.0, 4.0, 6.0, 2.0], [1.0, 3.0, 2.0, 4.0, 0.0]  # every difference is 2
    d = paired_diff_ci(a, b)
    assert d.mean == 2.0 and d.low == d.high == 2.0
    with pytest.raises(ConfigError):
        paired_diff_ci([1.0], [1.0, 2.0])


@pytest.mark.parametrize(
    ("df", "t"), [(1, 12.706), (9, 2.262), (35, 2.030), (100, 1.984), (10**6, 1.960)]
)
def test_t_quantiles(df, t):
    assert t_quantile_975(df) == pytest.approx(t, abs=2.5e-3)


def test_bad_input_is_refused():
    with pytest.raises(ConfigError):
        mean_ci([])
    with pytest.raises(ConfigError):
        mean_ci([1.0, float("nan")])
    with pytest.raises(ConfigError):
        mean_ci([1.0, 2.0], confidence=0.9)
