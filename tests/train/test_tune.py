import math

import pytest

from aither_wm.train.tune import TrialOutcome, bisect_lambda, judge


def _planted(lo_ok: float, hi_ok: float):
    calls: list[float] = []

    def run(points):
        out = []
        for lam in points:
            calls.append(lam)
            verdict = "collapsed" if lam < lo_ok else "too_high_error" if lam > hi_ok else "ok"
            out.append(TrialOutcome(lam=lam, verdict=verdict, score=abs(math.log10(lam))))
        return out

    return run, calls


@pytest.mark.parametrize(
    ("lo_ok", "hi_ok"), [(0.2, 0.25), (0.0012, 0.0015), (6.0, 8.0), (0.05, 0.5)]
)
def test_bisection_finds_a_planted_band_in_the_expected_number_of_trials(lo_ok, hi_ok):
    run, calls = _planted(lo_ok, hi_ok)
    result = bisect_lambda(run, max_trials=10)
    assert result.accepted and lo_ok <= result.pick <= hi_ok
    # log2(4 decades / band width in decades) + 1 trials suffice
    width = math.log10(hi_ok / lo_ok)
    assert len(calls) <= math.ceil(math.log2(4.0 / width)) + 1


def test_parallel_rounds_use_fewer_rounds_and_still_find_it():
    run, _calls = _planted(0.2, 0.25)
    result = bisect_lambda(run, max_trials=12, parallel=3)
    assert result.accepted and 0.2 <= result.pick <= 0.25


def test_no_feasible_lambda_returns_the_best_score_and_says_so():
    def run(points):
        return [TrialOutcome(lam=p, verdict="collapsed", score=1.0 / p) for p in points]

    result = bisect_lambda(run, max_trials=6)
    assert not result.accepted and len(result.trials) == 6
    assert result.pick == max(t.lam for t in result.trials)


def test_judge_rule():
    kw = {"batch_size": 64, "latent_dim": 256}
    assert judge(effective_rank=1.0, train_sigreg=1.1, ratio=0.5, **kw) == "collapsed"
    assert judge(effective_rank=40, train_sigreg=30.0, ratio=0.5, **kw) == "collapsed"
    assert judge(effective_rank=40, train_sigreg=2.0, ratio=1.2, **kw) == "too_high_error"
    assert judge(effective_rank=40, train_sigreg=2.0, ratio=0.6, **kw) == "ok"
