"""Pure numpy physics of one step: queueing at each service, then calls along edges.

Glossary: N services, E edges (caller ``src`` -> callee ``dst``, sorted by ``src``).

Queueing: utilisation ``rho = offered / (ready x capacity)``; latency is flat until about 0.7,
then a knee (``rho^6 / (1 - rho)``), unbounded as rho -> 1; above 1 a backlog of work builds
(requests wait behind it, so callers time out while the service still does their work: goodput
collapses), and once the queue is full the excess is dropped.
Calls: an attempt on an edge fails when the callee errors or answers after the caller's timeout
(a Pareto latency tail fitted to the callee's p50/p99). Callers retry up to ``attempts`` times
within a retry budget and a per-call deadline; retries multiply the callee's load (the caller of
:func:`~aither_wm.sim.load.propagate_load` feeds ``m`` back) and hide partial errors. A hard
callee's residual failure fails the caller's request; a soft one only costs latency. A caller's
latency is its own plus its slowest callee plus ``seq`` x the others; in-flight requests beyond
its connection pools fail (a slow callee fills the caller's pools while its CPU idles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CallState",
    "backlog_s",
    "own_latency_ms",
    "propagate_calls",
    "retries",
    "saturation_drop",
    "timeout_prob",
]

_EPS = 1e-9
#: Ceiling of any modelled latency, milliseconds.
MAX_LATENCY_MS = 60_000.0


def own_latency_ms(
    service_ms: np.ndarray, rho: np.ndarray, backlog_s: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """p50 and p99 of a service's own latency: service, queueing knee, and the wait behind a
    backlog of ``backlog_s`` seconds of work. Shapes: [N] -> [N], [N]."""
    r = np.clip(rho, 0.0, 0.995)
    knee = r**6 / (1.0 - r)  # [N]
    p50 = service_ms * (1.0 + knee)  # [N]
    p99 = p50 * (3.0 + 2.0 * r * r)  # [N]
    wait = 0.0 if backlog_s is None else 1000.0 * backlog_s
    return np.minimum(p50 + wait, MAX_LATENCY_MS), np.minimum(p99 + wait, MAX_LATENCY_MS)


def backlog_s(
    backlog: np.ndarray, rho: np.ndarray, step_s: float, limit_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Next backlog (seconds of work queued) and the fraction of requests dropped this step.

    Above utilisation 1 the queue grows by ``(rho - 1) x step_s`` seconds of work per step;
    below it drains. Once the queue is full (``limit_s``) the excess is dropped.
    Shapes: [N] -> [N], [N].
    """
    grown = backlog + (rho - 1.0) * step_s  # [N]
    full = grown >= limit_s
    drop = np.where(full & (rho > 1.0), 1.0 - 1.0 / np.maximum(rho, 1.0), 0.0)
    return np.clip(grown, 0.0, limit_s), drop


def saturation_drop(rho: np.ndarray) -> np.ndarray:
    """Fraction of offered requests a saturated service with no queue room drops. Shape: [N]."""
    return np.where(rho > 1.0, 1.0 - 1.0 / np.maximum(rho, 1.0), 0.0)


def timeout_prob(p50: np.ndarray, p99: np.ndarray, timeout_ms: np.ndarray | float) -> np.ndarray:
    """P(latency > timeout) under a Pareto tail through (p50, 0.5) and (p99, 0.01)."""
    p50 = np.maximum(p50, 1e-3)
    alpha = np.log(50.0) / np.log(np.maximum(p99 / p50, 1.0 + 1e-6))
    ratio = timeout_ms / p50
    above = 0.5 * np.power(np.maximum(ratio, 1.0), -alpha)
    below = 1.0 - 0.5 * np.power(np.minimum(ratio, 1.0), alpha)
    return np.where(ratio >= 1.0, above, below)


def retries(
    f: np.ndarray, attempts: np.ndarray, budget: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Attempts per call ``m`` and residual failure ``q`` given attempt failure ``f``.

    Without a budget ``m = (1 - f^A) / (1 - f)`` (-> A as f -> 1) and ``q = f^A``; a budget caps
    the extra attempts at ``budget`` per call and the residual failure rises accordingly.
    """
    f = np.clip(f, 0.0, 1.0)
    A = attempts
    near_one = f > 1.0 - 1e-6
    ideal = np.where(near_one, A, (1.0 - f**A) / np.maximum(1.0 - f, _EPS))
    extra = ideal - 1.0
    allowed = np.minimum(extra, budget)
    a_eff = np.where(extra > _EPS, 1.0 + (A - 1.0) * allowed / np.maximum(extra, _EPS), A)
    return 1.0 + allowed, f**a_eff


@dataclass
class CallState:
    """End-to-end view of every service as its callers see it.

    Attributes:
        p50, p99: latency including callees, milliseconds. Shape: [N].
        err: fraction of requests that fail. Shape: [N].
        f_edge: failure probability of one attempt on each edge. Shape: [E].
        m_edge: attempts per call on each edge (feeds the callee's load). Shape: [E].
        pool_drop: fraction failed for lack of connection-pool slots. Shape: [N].
    """

    p50: np.ndarray
    p99: np.ndarray
    err: np.ndarray
    f_edge: np.ndarray
    m_edge: np.ndarray
    pool_drop: np.ndarray


def _segment(
    op: np.ufunc, values: np.ndarray, seg_start: np.ndarray, has_out: np.ndarray
) -> np.ndarray:
    out = np.zeros(has_out.shape[0])
    if values.size:
        out[has_out] = op.reduceat(values, seg_start)
    return out


def propagate_calls(
    *,
    src: np.ndarray,
    dst: np.ndarray,
    is_hard: np.ndarray,
    is_back: np.ndarray,
    fanout: np.ndarray,
    seg_start: np.ndarray,
    has_out: np.ndarray,
    own50: np.ndarray,
    own99: np.ndarray,
    own_err: np.ndarray,
    lam: np.ndarray,
    pool_cap: np.ndarray,
    delay_ms: np.ndarray,
    attempts: np.ndarray,
    budget: np.ndarray,
    timeout_ms: np.ndarray | float,
    deadline_ms: np.ndarray | float,
    seq: float,
    sweeps: int,
    init: CallState | None,
) -> CallState:
    """Bottom-up sweeps of latency and errors through the call graph, warm-started from ``init``.

    Shapes: per-service arrays [N], per-edge arrays [E]; returns a :class:`CallState`.
    """
    p50 = own50.copy() if init is None else init.p50.copy()
    p99 = own99.copy() if init is None else init.p99.copy()
    err = own_err.copy() if init is None else init.err.copy()
    w = np.minimum(fanout, 1.0)  # [E] share of requests that make the call
    f = m = np.zeros(src.shape[0])
    pool_drop = np.zeros_like(own50)
    for _ in range(sweeps):
        # A back edge closes a cycle: its callee answers with its own latency and errors.
        d50 = np.where(is_back, own50[dst], p50[dst]) + delay_ms  # [E]
        d99 = np.maximum(np.where(is_back, own99[dst], p99[dst]) + delay_ms, d50)  # [E]
        tau = timeout_prob(d50, d99, timeout_ms)  # [E]
        f = 1.0 - (1.0 - np.where(is_back, own_err[dst], err[dst])) * (1.0 - tau)  # [E]
        m, q = retries(f, attempts, budget)  # [E], [E]
        c50 = np.minimum(np.minimum(d50, timeout_ms) * m, deadline_ms)  # [E] retries included
        c99 = np.minimum(np.minimum(d99, timeout_ms) * m, deadline_ms)  # [E]
        sum50 = _segment(np.add, c50, seg_start, has_out)  # [N]
        max50 = _segment(np.maximum, c50, seg_start, has_out)  # [N]
        max99 = _segment(np.maximum, c99, seg_start, has_out)  # [N]
        rest = seq * (sum50 - max50)
        p50 = np.minimum(own50 + max50 + rest, MAX_LATENCY_MS)  # [N]
        p99 = np.minimum(np.maximum(own99 + max99 + rest, p50), MAX_LATENCY_MS)  # [N]
        inflight = lam * p50 / 1000.0  # Little's law, requests in flight
        pool_drop = np.clip(1.0 - pool_cap / np.maximum(inflight, _EPS), 0.0, 1.0)  # [N]
        ok_own = (1.0 - own_err) * (1.0 - pool_drop)  # [N]
        fail_call = np.where(is_hard, np.clip(w * q, 0.0, 1.0 - 1e-12), 0.0)  # [E]
        log_ok = np.log(np.maximum(ok_own, 1e-300)) + np.bincount(
            src, weights=np.log1p(-fail_call), minlength=own50.shape[0]
        )  # [N]
        err = np.clip(1.0 - np.exp(log_ok), 0.0, 1.0)  # [N]
    return CallState(p50=p50, p99=p99, err=err, f_edge=f, m_edge=m, pool_drop=pool_drop)
