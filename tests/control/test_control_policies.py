"""The reactive runbook: textbook remedies, root cause = most downstream broken service."""

from control_helpers import boutique, make_state

from aither_wm.control import NoopPolicy, ReactiveConfig, ReactivePolicy
from aither_wm.graph import Action, ActionType


def decide(overrides, **cfg):
    g = boutique()
    return ReactivePolicy(ReactiveConfig(**cfg)).decide(g, make_state(g, overrides=overrides))


def test_healthy_mesh_gets_a_noop():
    assert decide({}) == Action.noop()
    g = boutique()
    assert NoopPolicy().decide(g, make_state(g)) == Action.noop()


def test_textbook_remedies():
    assert decide({"adservice": {"health": "down", "replicas": 0}}) == Action(
        type=ActionType.restart, target="adservice"
    )
    assert decide({"adservice": {"memory_util": 0.95}}).type is ActionType.restart
    bad_deploy = {"adservice": {"error_rate": 0.4, "version": 3, "previous_version": 2}}
    assert decide(bad_deploy) == Action(type=ActionType.rollback, target="adservice")
    assert (
        decide({"adservice": {"error_rate": 0.4}}).type is ActionType.restart
    )  # no previous release
    assert decide({"adservice": {"cpu_util": 0.97}}) == Action(
        type=ActionType.scale_out, target="adservice"
    )
    assert (
        decide({"adservice": {"cpu_util": 0.97, "replicas": 10}}) == Action.noop()
    )  # at the limit


def test_root_cause_is_the_most_downstream_broken_service():
    # redis-cart fails; its callers cartservice and frontend show propagated errors.
    errors = {
        s: {"error_rate": e}
        for s, e in (("frontend", 0.3), ("cartservice", 0.5), ("redis-cart", 0.5))
    }
    assert decide(errors) == Action(type=ActionType.restart, target="redis-cart")
    # A worse symptom class wins over depth: a down service first.
    errors["frontend"] = {"health": "down", "replicas": 0}
    assert decide(errors).target == "frontend"
