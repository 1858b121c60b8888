"""Known answers of the pure physics: the latency knee, retries, timeouts, load along edges."""

import numpy as np
import pytest

from aither_wm.sim.load import propagate_load
from aither_wm.sim.physics import (
    own_latency_ms,
    propagate_calls,
    retries,
    saturation_drop,
    timeout_prob,
)


def test_latency_is_flat_then_knees_then_unbounded():
    rho = np.array([0.1, 0.5, 0.7, 0.9, 0.99])
    p50, p99 = own_latency_ms(np.full(5, 10.0), rho)
    assert p50[1] / p50[0] < 1.1  # flat at low load
    assert p50[2] / p50[0] < 1.4  # still modest at 0.7
    assert p50[3] / p50[2] > 3.0  # the knee
    assert p50[4] > 50 * p50[0]  # unbounded as rho -> 1
    assert np.all(p99 >= p50) and np.all(np.diff(p50) > 0)


def test_saturation_drops_the_excess():
    np.testing.assert_allclose(saturation_drop(np.array([0.5, 1.0, 2.0, 4.0])), [0, 0, 0.5, 0.75])


def test_timeout_probability_follows_the_tail():
    p50, p99 = np.array([100.0]), np.array([400.0])
    assert timeout_prob(p50, p99, 100.0)[0] == pytest.approx(0.5)
    assert timeout_prob(p50, p99, 400.0)[0] == pytest.approx(0.01)
    assert timeout_prob(p50, p99, 10_000.0)[0] < 1e-4
    assert timeout_prob(p50, p99, 1.0)[0] > 0.99


def test_retries_multiply_load_and_hide_partial_errors():
    f = np.array([0.0, 0.5, 1.0])
    m, q = retries(f, np.full(3, 3.0), np.full(3, np.inf))
    np.testing.assert_allclose(m, [1.0, 1.75, 3.0])
    np.testing.assert_allclose(q, [0.0, 0.125, 1.0])
    m_b, q_b = retries(f, np.full(3, 3.0), np.full(3, 0.2))  # a 20 % retry budget caps it
    np.testing.assert_allclose(m_b, [1.0, 1.2, 1.2])
    assert q_b[1] > q[1] and q_b[2] == pytest.approx(1.0)


def _chain(n: int):
    src, dst = np.arange(n - 1), np.arange(1, n)
    return src, dst


def test_three_layers_of_three_attempts_is_27x():
    """A failing leaf under a chain of 3 callers, 3 attempts each, no budget: 27x its load."""
    src, dst = _chain(4)
    E, N = 3, 4
    own_err = np.array([0.0, 0.0, 0.0, 1.0])
    own = np.full(N, 5.0)
    calls = propagate_calls(
        src=src, dst=dst, is_hard=np.ones(E, bool), is_back=np.zeros(E, bool),
        fanout=np.ones(E), seg_start=np.arange(3), has_out=np.array([1, 1, 1, 0], bool),
        own50=own, own99=own * 3, own_err=own_err, lam=np.full(N, 10.0),
        pool_cap=np.full(N, 1e9), delay_ms=np.zeros(E), attempts=np.full(E, 3.0),
        budget=np.full(E, np.inf), timeout_ms=1000.0, deadline_ms=1e9, seq=0.0, sweeps=5,
        init=None,
    )  # fmt: skip
    np.testing.assert_allclose(calls.err, 1.0)  # a hard dependency's failure fails every caller
    np.testing.assert_allclose(calls.m_edge, 3.0)
    lam = propagate_load(
        src, dst, calls.m_edge, np.array([100.0, 0, 0, 0]), init=np.zeros(N), sweeps=5,
        is_back=np.zeros(E, bool),
    )  # fmt: skip
    np.testing.assert_allclose(lam, [100.0, 300.0, 900.0, 2700.0])


def test_soft_dependency_costs_latency_not_errors():
    src, dst = _chain(2)
    own = np.array([5.0, 50.0])
    calls = propagate_calls(
        src=src, dst=dst, is_hard=np.zeros(1, bool), is_back=np.zeros(1, bool), fanout=np.ones(1),
        seg_start=np.array([0]), has_out=np.array([True, False]), own50=own, own99=own * 3,
        own_err=np.array([0.0, 1.0]), lam=np.ones(2), pool_cap=np.full(2, 1e9),
        delay_ms=np.zeros(1), attempts=np.full(1, 3.0), budget=np.full(1, 0.2),
        timeout_ms=1000.0, deadline_ms=3000.0, seq=0.0, sweeps=3, init=None,
    )  # fmt: skip
    assert calls.err[0] == 0.0 and calls.p50[0] > own[0] + own[1]


def test_back_edges_carry_load_once():
    """A two-service cycle with unit fan-out: the back edge adds the caller's load once."""
    src, dst = np.array([0, 1]), np.array([1, 0])
    lam = propagate_load(
        src, dst, np.ones(2), np.array([100.0, 0.0]), init=np.zeros(2), sweeps=3,
        is_back=np.array([False, True]),
    )  # fmt: skip
    np.testing.assert_allclose(lam, [200.0, 200.0])  # not the divergent fixed point
