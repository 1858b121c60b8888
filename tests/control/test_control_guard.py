"""The safety guard refuses disallowed types, cooldown, rate and blast-radius violations."""

import pytest
from control_helpers import boutique
from pydantic import ValidationError

from aither_wm.control import GuardConfig, SafetyGuard
from aither_wm.graph import Action, ActionType

N = 11  # services in online-boutique


def act(kind: str, target: str) -> Action:
    return Action(type=ActionType(kind), target=target)


def guard(**cfg) -> SafetyGuard:
    base = {"cooldown_steps": 0, "max_actions_per_window": 100, "max_service_fraction": 1.0}
    return SafetyGuard(GuardConfig(**{**base, **cfg}), num_services=N)


def test_noop_is_always_allowed_and_never_counted():
    g = guard(max_actions_per_window=0)
    for step in range(5):
        assert g.admit(Action.noop(), step).allowed
    assert g.state()["actions_in_window"] == 0


def test_disallowed_type_and_protected_service_are_refused():
    g = guard(allowed_types=("restart", "scale_out"), protected_services=("redis-cart",))
    v = g.admit(act("rollback", "cartservice"), 0)
    assert not v.allowed and "not allowed" in v.reasons[0]
    assert g.admit(act("restart", "cartservice"), 0).allowed
    v = g.admit(act("restart", "redis-cart"), 1)
    assert not v.allowed and "protected" in v.reasons[0]


def test_cooldown_per_service():
    g = guard(cooldown_steps=4)
    assert g.admit(act("restart", "cartservice"), 10).allowed
    v = g.admit(act("scale_out", "cartservice"), 12)
    assert not v.allowed and "cooldown" in v.reasons[0] and "2 more step" in v.reasons[0]
    assert g.admit(act("restart", "adservice"), 12).allowed  # another service is not cooling down
    assert g.admit(act("restart", "cartservice"), 14).allowed


def test_rate_limit_over_a_sliding_window():
    g = guard(max_actions_per_window=2, window_steps=10)
    assert g.admit(act("restart", "frontend"), 0).allowed
    assert g.admit(act("restart", "adservice"), 3).allowed
    v = g.admit(act("restart", "emailservice"), 9)
    assert not v.allowed and v.reasons[0].startswith("rate")
    assert g.admit(act("restart", "emailservice"), 10).allowed  # step 0 left the window


def test_blast_radius_limits_services_touched_per_window():
    g = guard(max_service_fraction=0.25, window_steps=20)  # floor(0.25 * 11) = 2 services
    assert g.max_services_per_window == 2
    assert g.admit(act("restart", "frontend"), 0).allowed
    assert g.admit(act("restart", "cartservice"), 1).allowed
    v = g.admit(act("restart", "adservice"), 2)
    assert not v.allowed and "blast radius" in v.reasons[0]
    assert g.admit(act("scale_out", "frontend"), 3).allowed  # an already-touched service is fine
    assert g.admit(act("restart", "adservice"), 21).allowed  # window moved past steps 0 and 1


def test_tiny_fraction_still_allows_one_service():
    g = SafetyGuard(GuardConfig(max_service_fraction=0.01, cooldown_steps=0), num_services=N)
    assert g.max_services_per_window == 1
    assert g.admit(act("restart", "frontend"), 0).allowed
    assert not g.admit(act("restart", "adservice"), 1).allowed


def test_check_does_not_record_and_every_reason_is_reported():
    g = guard(cooldown_steps=5, max_actions_per_window=1, allowed_types=("restart",))
    assert g.check(act("restart", "frontend"), 0).allowed
    assert g.check(act("restart", "frontend"), 0).allowed  # nothing recorded by check
    g.admit(act("restart", "frontend"), 0)
    v = g.check(act("rollback", "frontend"), 1)
    assert len(v.reasons) == 3  # type, cooldown, rate


def test_config_is_strict_and_dry_run_by_default():
    assert GuardConfig().dry_run is True
    with pytest.raises(ValidationError):
        GuardConfig(allowed_types=("reboot",))
    with pytest.raises(ValidationError):
        GuardConfig(max_actions=3)  # unknown key
    with pytest.raises(ValidationError):
        GuardConfig(max_service_fraction=0.0)
    assert boutique().num_services == N
