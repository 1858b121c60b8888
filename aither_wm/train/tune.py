"""Lambda bisection: the world model's one hyperparameter, tuned on a log scale.

Rule per trial (a trained model at one lambda):
  * collapsed (effective rank too low, or SIGReg far above its ~1.06 floor) -> lambda too small;
  * prediction error too high against the "nothing changes" baseline -> lambda too large;
  * neither -> accept.

The interval [lo, hi] (default [0.001, 10]) is narrowed in log space. Each round evaluates
``parallel`` points at once (a k-section search; k = 1 is plain bisection), through a
``run_trials`` callable, so the runtime can run a round's trials as parallel Ray tasks while tests
run them in-process. Stops at the first accepted lambda or after ``max_trials``; then the pick is
the accepted lambda, or the trial with the best score if none was accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["TrialOutcome", "TuneResult", "bisect_lambda", "judge"]

Verdict = Literal["collapsed", "too_high_error", "ok"]


@dataclass(frozen=True)
class TrialOutcome:
    """What one trial measured.

    Attributes:
        lam: the lambda tried.
        verdict: "collapsed", "too_high_error" or "ok".
        score: lower is better (used to pick when no trial is "ok"), e.g. the held-out error ratio.
        metrics: anything else worth printing.
    """

    lam: float
    verdict: Verdict
    score: float
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TuneResult:
    """The trials in the order they ran, and the pick."""

    trials: tuple[TrialOutcome, ...]
    pick: float
    accepted: bool
    interval: tuple[float, float]


def judge(*, effective_rank: float, train_sigreg: float, batch_size: int, ratio: float, latent_dim: int,
          min_rank_fraction: float = 0.05, max_sigreg_per_sample: float = 0.2, max_ratio: float = 0.95) -> Verdict:  # fmt: skip
    """The rule, collapse first, then prediction error.

    Collapsed: held-out effective rank below ``min_rank_fraction * D`` (at least 2), or the
    training SIGReg (at batch size B, train mode) above ``max_sigreg_per_sample * B``: SIGReg is
    about 1.06 on N(0, I) whatever B, and 0.4 B to 1.05 B on a collapse to one point.
    Too high error: held-out prediction error over "nothing changes" error above ``max_ratio``.
    """
    if (
        effective_rank < max(2.0, min_rank_fraction * latent_dim)
        or train_sigreg > max_sigreg_per_sample * batch_size
    ):
        return "collapsed"
    if ratio > max_ratio:
        return "too_high_error"
    return "ok"


def bisect_lambda(
    run_trials: Callable[[Sequence[float]], Sequence[TrialOutcome]],
    *,
    lo: float = 1e-3,
    hi: float = 10.0,
    max_trials: int = 10,
    parallel: int = 1,
) -> TuneResult:
    """Search lambda in [lo, hi] on a log scale; see the module docstring."""
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got lo={lo}, hi={hi}")
    a, b = math.log10(lo), math.log10(hi)
    trials: list[TrialOutcome] = []
    while len(trials) < max_trials:
        k = min(parallel, max_trials - len(trials))
        points = [10 ** (a + (b - a) * (i + 1) / (k + 1)) for i in range(k)]
        outcomes = list(run_trials(points))
        trials.extend(outcomes)
        ok = [o for o in outcomes if o.verdict == "ok"]
        if ok:
            best = min(ok, key=lambda o: o.score)
            return TuneResult(tuple(trials), best.lam, True, (10**a, 10**b))
        for o in sorted(
            outcomes, key=lambda o: o.lam
        ):  # narrow: collapse raises lo, error lowers hi
            if o.verdict == "collapsed":
                a = max(a, math.log10(o.lam))
        for o in sorted(outcomes, key=lambda o: -o.lam):
            if o.verdict == "too_high_error":
                b = min(b, math.log10(o.lam))
        if b <= a:  # contradictory trials (noise): nothing left to search
            break
    best = min(trials, key=lambda o: o.score)
    return TuneResult(tuple(trials), best.lam, False, (10**a, 10**b))
