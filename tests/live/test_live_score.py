"""The heal score on hand-made samples: the SLO hold rule is the simulator's (ticks as steps)."""

from aither_wm.live.score import HealSample, hold_ticks, score_heal


def _samples(fixed: str, *, acted_at: int | None = None, period_s: float = 1.0):
    """One sample per character: 'x' fixed (SLO met too), 's' SLO met but not fixed, '.' broken."""
    return [
        HealSample(
            t_s=(i + 1) * period_s,
            client_error_rate=0.0,
            client_p99_ms=10.0,
            slo_ok=c in "xs",
            fixed=c == "x",
            acted=i == acted_at,
        )
        for i, c in enumerate(fixed)
    ]


def test_hold_ticks_span_at_least_hold_s():
    assert hold_ticks(5.0, 1.0) == 6  # 6 ticks one second apart span 5 s
    assert hold_ticks(4.0, 1.0) == 5
    assert hold_ticks(0.0, 1.0) == 1  # no hold: the first fixed tick
    assert hold_ticks(1.0, 0.3) == 5  # 4 periods of 0.3 s >= 1 s


def test_mitigated_at_the_first_tick_of_the_first_held_stretch():
    # broken 3 ticks, fixed 2 (too short), broken 1, fixed 6 from the 7th tick (t = 7 s)
    score = score_heal(_samples("...xx.xxxxxx", acted_at=1), hold_ticks=6)
    assert score.recovered and score.time_to_mitigate_s == 7.0
    assert score.time_to_detect_s == 2.0
    assert score.slo_violation_s == 4.0  # four broken ticks of one second each


def test_not_mitigated_when_no_stretch_is_long_enough():
    score = score_heal(_samples("..xxxxx.xx"), hold_ticks=6)
    assert not score.recovered and score.time_to_mitigate_s is None
    assert score.time_to_detect_s is None


def test_slo_met_but_target_unhealthy_is_not_fixed():
    score = score_heal(_samples("ssssssss"), hold_ticks=3)
    assert not score.recovered and score.slo_violation_s == 0.0


def test_violation_counts_the_time_since_the_previous_tick():
    samples = _samples("..x", period_s=1.5)  # ticks at 1.5, 3.0, 4.5 s
    assert score_heal(samples, hold_ticks=1).slo_violation_s == 3.0
    assert samples[0].timeline_row()["t_s"] == 1.5
