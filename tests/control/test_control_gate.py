"""The anomaly gate: planners are asked only when surprise opens an incident (or health fails)."""

import random

from control_helpers import CEM_SMALL, TINY, boutique, make_state

from aither_wm.anomaly import DetectorConfig
from aither_wm.control import (
    AutohealController,
    ControllerConfig,
    LocalDispatcher,
    PlannerService,
    RecordingExecutor,
)
from aither_wm.control.gate import AnomalyGate
from aither_wm.runtime.loop import ControlLoop


class ListSource:
    def __init__(self, states):
        self.states, self.i = states, 0

    def observe(self):
        s = self.states[self.i]
        self.i += 1
        return s


def raw_error_surprise(_state, _action, next_state):
    """A deterministic scorer: total error rate (+ a floor), standing in for the model's surprise."""
    return 1e-3 + sum(s.error_rate for s in next_state.services.values())


def test_calm_traffic_never_wakes_the_planners_and_a_surprise_does():
    g = boutique()
    rng = random.Random(0)
    calm = [
        make_state(g, t, {"adservice": {"error_rate": rng.uniform(0.0, 0.002)}}) for t in range(60)
    ]
    # errors climb on one service while every health check still passes
    bad = [make_state(g, 60 + t, {"cartservice": {"error_rate": 0.3}}) for t in range(5)]
    gate = AnomalyGate(raw_error_surprise, DetectorConfig(warmup_steps=20))
    events = []
    gate.subscribe(events.append)
    planner = PlannerService("cem", model_config=TINY, graphs=[g], planner_config=CEM_SMALL)
    ctl = AutohealController(
        g, LocalDispatcher({"cem": planner}), RecordingExecutor(), config=ControllerConfig()
    )
    loop = ControlLoop(ListSource(calm + bad), ctl, gate=gate)
    calm_results = [
        loop.tick() for _ in range(61)
    ]  # tick 61 scores the step into the first bad state
    assert all(r is None for r in calm_results) and ctl.decisions == 0 and not events
    later = [loop.tick() for _ in range(4)]
    assert events and events[0].kind == "open" and events[0].step >= 60
    assert ctl.decisions >= 1 and later[-1] is not None
    assert loop.health()["skipped_by_gate"] >= 61


def test_a_failing_health_check_wakes_the_planners_without_surprise():
    g = boutique()
    gate = AnomalyGate(lambda *_: 1.0, DetectorConfig(warmup_steps=4))
    down = make_state(g, 0, {"adservice": {"health": "down", "replicas": 0, "error_rate": 1.0}})
    assert gate.should_plan(down) and not gate.should_plan(make_state(g, 0))
