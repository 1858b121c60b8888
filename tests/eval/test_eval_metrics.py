"""Episode metrics on hand-made episodes with known answers, and their aggregation."""

import pytest

from aither_wm.errors import ConfigError
from aither_wm.eval.metrics import EpisodeRecord, score_record
from aither_wm.eval.summary import summarize


def _record(violated, effects, *, fault="cache_down", onset=2, policy="p", replicate=0, avail=None):
    return EpisodeRecord(
        policy=policy,
        fault=fault,
        target="redis" if fault else None,
        replicate=replicate,
        onset_step=onset if fault else None,
        step_seconds=15.0,
        violated=tuple(bool(v) for v in violated),
        availability=tuple(avail or [0.5 if v else 1.0 for v in violated]),
        effects=tuple(effects),
        actions=tuple("noop" if e == "noop" else "restart(redis)" for e in effects),
    )


def test_known_episode():
    #          t: 0  1  2  3  4  5  6  7  8  9 10 11
    violated = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 0]
    effects = ["noop", "no_effect", "noop", "harmful", "fixes", "noop",
               "noop", "false_positive", "noop", "noop", "noop", "noop"]  # fmt: skip
    s = score_record(_record(violated, effects), hold_steps=4)
    assert s["slo_violation_minutes"] == pytest.approx(4 * 15 / 60)
    assert s["availability"] == pytest.approx((8 * 1.0 + 4 * 0.5) / 12)
    # first breach at 3; SLO met 6, 7, 8, 9 -> back at step 6: 3 steps = 45 s
    assert s["time_to_mitigate_s"] == 45.0 and s["mitigated"] is True
    assert s["actions"] == 4 and s["fixes"] == 1 and s["harmful_actions"] == 1
    assert s["wrong_actions"] == 2 and s["false_positive_actions"] == 1
    assert s["wrong_or_harmful_actions"] == 3
    assert s["lead_time_s"] == (3 - 4) * 15.0  # the fix came one step after the breach
    assert s["prevented"] is False


def test_never_recovered_is_censored_at_the_end():
    s = score_record(_record([0, 0, 1, 1, 1, 0, 0], ["noop"] * 7), hold_steps=4)
    assert s["mitigated"] is False and s["time_to_mitigate_s"] == 5 * 15.0


def test_no_breach_means_nothing_to_mitigate_and_a_fix_before_is_prevention():
    s = score_record(_record([0] * 6, ["noop", "noop", "fixes", "noop", "noop", "noop"]))
    assert s["time_to_mitigate_s"] is None and s["mitigated"] is None
    assert s["prevented"] is True and s["lead_time_s"] is None


def test_fault_free_episode():
    s = score_record(
        _record([0] * 5, ["noop", "false_positive", "noop", "noop", "noop"], fault=None)
    )
    assert (
        s["time_to_mitigate_s"] is None and s["false_positive_actions"] == 1 and not s["prevented"]
    )


def test_record_checks_lengths_and_onset():
    with pytest.raises(ConfigError):
        _record([0, 1], ["noop"])
    with pytest.raises(ConfigError):
        EpisodeRecord("p", None, None, 0, 3, 15.0, (False,), (1.0,), ("noop",), ("noop",))


def test_summary_averages_within_a_replicate_then_over_replicates():
    recs = []
    for rep, minutes in enumerate([1, 2, 3, 4, 5]):
        v = [1] * (4 * minutes) + [0] * (24 - 4 * minutes)  # 4 steps of 15 s = 1 minute
        recs.append(_record(v, ["noop"] * 24, onset=0, policy="reactive", replicate=rep))
        recs.append(_record([0] * 24, ["noop"] * 24, onset=0, policy="cem", replicate=rep))
        recs.append(
            _record(
                [0] * 24,
                ["false_positive"] + ["noop"] * 23,
                fault=None,
                policy="cem",
                replicate=rep,
            )
        )
    s = summarize(recs)
    slo = s["policies"]["reactive"]["slo_violation_minutes"]
    assert slo["mean"] == 3.0 and slo["ci95"] == [1.037, 4.963] and slo["n"] == 5
    # cem: per replicate, mean of a fault episode (0 min) and a fault-free one (0 min)
    assert s["policies"]["cem"]["slo_violation_minutes"]["mean"] == 0.0
    assert s["policies"]["cem"]["fault_free_actions"]["mean"] == 1.0
    assert s["vs_reactive"]["cem"]["mean"] == -3.0  # paired: cem's 0 minus reactive's 3 on average
    assert set(s["by_fault"]) == {"cache_down", "none"}
