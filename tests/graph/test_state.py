import json
import math

import pytest

from aither_wm.errors import StateError
from aither_wm.graph import (
    Action,
    ActionType,
    MeshState,
    Transition,
    graph_from_dict,
    healthy_version,
    nominal_service_state,
    parse_state,
)

G = graph_from_dict(
    {"name": "g", "services": [{"name": "a", "kind": "frontend"}, {"name": "b", "kind": "cache"}],
     "edges": [{"from": "a", "to": "b"}]}
)  # fmt: skip


def _state_dict(**svc_over):
    s = nominal_service_state().model_dump()
    s.update(svc_over)
    return {"graph": "g", "services": {"a": nominal_service_state().model_dump(), "b": s}}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cpu_util", math.nan),
        ("cpu_util", math.inf),
        ("cpu_util", 1.5),
        ("error_rate", -0.1),
        ("latency_p50_ms", -1.0),
        ("replicas", -1),
        ("health", "sick"),
        ("request_rate_rps", 1e300),
    ],
)
def test_bad_values_are_refused_naming_the_field(field, value):
    with pytest.raises(StateError, match=rf"services\.b\.{field}"):
        parse_state(_state_dict(**{field: value}), G)


def test_p99_below_p50_is_refused():
    with pytest.raises(StateError, match="latency_p99_ms"):
        parse_state(_state_dict(latency_p50_ms=100.0, latency_p99_ms=50.0), G)


def test_unknown_extra_and_missing_services_are_refused():
    d = _state_dict()
    d["services"]["ghost"] = d["services"]["a"]
    with pytest.raises(StateError, match="ghost"):
        parse_state(d, G)
    d = _state_dict()
    del d["services"]["b"]
    with pytest.raises(StateError, match="lacks services"):
        parse_state(d, G)
    d = _state_dict()
    d["services"]["b"]["colour"] = "red"
    with pytest.raises(StateError, match="colour"):
        parse_state(d, G)


def test_actions_need_a_target_except_noop():
    assert str(Action(type=ActionType.restart, target="b")) == "restart(b)"
    with pytest.raises(ValueError):
        Action(type=ActionType.restart)
    with pytest.raises(ValueError):
        Action(type=ActionType.noop, target="b")


def test_transition_round_trips_through_json_and_checks_consistency():
    s = parse_state(_state_dict(), G)
    t = Transition(graph="g", state=s, action=Action(type=ActionType.restart, target="b"),
                   next_state=s, timestamp=1.0, faults=["cache_down:b"])  # fmt: skip
    assert Transition.model_validate_json(t.model_dump_json()) == t
    with pytest.raises(ValueError, match="unknown service"):
        Transition(
            graph="g",
            state=s,
            action=Action(type=ActionType.restart, target="zz"),
            next_state=s,
            timestamp=1.0,
        )
    with pytest.raises(ValueError, match="schema_version"):
        Transition.model_validate({**json.loads(t.model_dump_json()), "schema_version": 99})


def test_healthy_version_keeps_topology_and_replicas():
    d = _state_dict(health="down", error_rate=1.0, replicas=0, previous_version=1, version=2)
    goal = healthy_version(MeshState.model_validate(d))
    assert goal.services["b"].health == "healthy" and goal.services["b"].replicas == 1
    assert goal.services["b"].version == 2 and goal.services["b"].previous_version == 1
