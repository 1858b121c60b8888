"""SLO accounting: per-step status and episode scores, on hand-made sequences."""

import numpy as np
import pytest

from aither_wm.sim import SimConfig
from aither_wm.sim.slo import SLOStatus, score_episode, slo_status, time_to_mitigate_steps


def test_status_weights_entry_points_by_their_load():
    s = slo_status(
        entry=np.array([True, True, False]), ext=np.array([300.0, 100.0, 0.0]),
        err=np.array([0.0, 0.1, 1.0]), p99_ms=np.array([100.0, 250.0, 9e3]),
        availability_target=0.99, latency_target_ms=200.0,
    )  # fmt: skip
    assert s.availability == pytest.approx(0.975)  # the non-entry service does not count
    assert s.latency_p99_ms == 250.0 and s.violated and not s.is_available and not s.is_fast


def test_time_to_mitigate_needs_the_slo_held():
    v = [False, True, True, False, True, False, False, False, False, True]
    assert time_to_mitigate_steps(v, start=1, hold_steps=4) == 4
    assert time_to_mitigate_steps(v, start=1, hold_steps=5) is None


def test_score_episode():
    ok = SLOStatus(1.0, 0.99, 10.0, 100.0, False)
    bad = SLOStatus(0.5, 0.99, 10.0, 100.0, True)
    score = score_episode(
        [ok, bad, bad, ok, ok], step_seconds=15.0, onset_step=1, hold_steps=2,
        effects=["noop", "harmful", "no_effect", "fixes", "noop"],
    )  # fmt: skip
    assert score["slo_violation_minutes"] == pytest.approx(0.5)
    assert score["time_to_mitigate_s"] == pytest.approx(30.0)
    assert (score["actions"], score["wrong_actions"], score["harmful_actions"]) == (3, 1, 1)


def test_config_is_frozen_and_strict():
    cfg = SimConfig()
    with pytest.raises(ValueError):
        SimConfig(retry_attempts=0.5)
    with pytest.raises(ValueError):
        SimConfig(unknown_knob=1)
    with pytest.raises(ValueError):
        SimConfig(min_replicas=5, nominal_replicas=2)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        cfg.step_seconds = 1.0  # type: ignore[misc]
    assert cfg.action_cost("noop") == 0.0 and cfg.action_cost("restart") == cfg.cost_restart
