"""The progress protocol and its tqdm adapter; the one wait-until loop."""

import io
import time

from aither_wm.progress import TqdmProgress, count_steps
from aither_wm.wait import wait_until


def test_count_steps_reports_a_counter_with_extra_keys():
    got = []
    step = count_steps(
        lambda phase, info: got.append((phase, dict(info))), "train", 3, lambda info: {"loss": info}
    )
    for loss in (0.3, 0.2, 0.1):
        step(loss)
    assert got == [
        ("train", {"n": k, "total": 3, "loss": v}) for k, v in ((1, 0.3), (2, 0.2), (3, 0.1))
    ]
    count_steps(None, "train", 3)(None)  # no progress: nothing to call


def test_tqdm_progress_draws_counters_and_prints_notes():
    out = io.StringIO()
    with TqdmProgress("demo", file=out) as progress:
        progress("ray", {"mode": "embedded", "cpus": 3})
        for n in (1, 5, 10):
            progress("train", {"n": n, "total": 10, "pred": "0.1"})
        assert progress._bars["train"].n == 10
    text = out.getvalue()
    assert "[demo] ray: mode=embedded, cpus=3" in text and "train" in text and "pred=0.1" in text
    assert progress._bars == {}


def test_wait_until_returns_the_first_truthy_value_or_none_at_the_deadline():
    calls = []

    def third_time():
        calls.append(1)
        return "ready" if len(calls) >= 3 else None

    assert wait_until(third_time, timeout_s=5, interval_s=0.01) == "ready" and len(calls) == 3
    t0 = time.monotonic()
    assert wait_until(lambda: 0, timeout_s=0.1, interval_s=0.02) is None
    assert 0.1 <= time.monotonic() - t0 < 1.0
    assert wait_until(lambda: "at once", timeout_s=0) == "at once"  # checked at least once


def test_wait_until_ignores_only_the_named_errors():
    tries = []

    def flaky():
        tries.append(1)
        if len(tries) < 2:
            raise ConnectionError("not yet")
        return True

    assert wait_until(flaky, timeout_s=5, interval_s=0.01, ignore=(OSError,))
    try:
        wait_until(lambda: 1 / 0, timeout_s=1, ignore=(OSError,))
    except ZeroDivisionError:
        pass
    else:  # pragma: no cover
        raise AssertionError("an error not in ignore must propagate")
