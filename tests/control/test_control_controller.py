"""The autoheal controller, in-process: compare, pick, fall back, guard, execute, audit."""

import time
from functools import partial

import pytest
from control_helpers import CEM_SMALL, MCTS_SMALL, TINY, boutique, make_state

from aither_wm.control import (
    AuditLog,
    AutohealController,
    ControllerConfig,
    GuardConfig,
    LocalDispatcher,
    PlannerService,
    PlanOutcome,
    PlanReply,
    RecordingExecutor,
    read_audit,
)
from aither_wm.control.testing import FailingPlanner, HangingPlanner, RoguePlanner, SlowPlanner
from aither_wm.graph import Action, ActionType

ACTING = GuardConfig(
    dry_run=False, cooldown_steps=0, max_actions_per_window=100, max_service_fraction=1.0
)


def service(planner, **kw):
    g = boutique()
    cfg = {"cem": CEM_SMALL, "mcts": MCTS_SMALL}.get(planner) if isinstance(planner, str) else None
    return PlannerService(planner, model_config=TINY, graphs=[g], planner_config=cfg, **kw)


def controller(planners, *, audit=None, **cfg):
    g = boutique()
    ex = RecordingExecutor()
    ctl = AutohealController(
        g, LocalDispatcher(planners), ex, config=ControllerConfig(**cfg), audit=audit
    )
    return ctl, ex


def broken_state(step=0):
    g = boutique()
    return make_state(g, step, {"adservice": {"health": "down", "replicas": 0, "error_rate": 1.0}})


def test_both_planners_compared_picked_and_audited(tmp_path):
    audit = AuditLog(tmp_path / "audit.jsonl")
    ctl, _ = controller({"cem": service("cem"), "mcts": service("mcts")}, audit=audit)
    d = ctl.decide(broken_state())
    assert set(d.outcomes) == {"cem", "mcts"} and all(o.status == "ok" for o in d.outcomes.values())
    assert d.chosen in ("cem", "mcts") and d.agreement in (True, False)
    costs = {n: o.reply.cost for n, o in d.outcomes.items()}
    assert costs[d.chosen] == min(costs.values())
    assert d.action == ctl.space.action(d.outcomes[d.chosen].reply.first_action)
    [rec] = read_audit(tmp_path / "audit.jsonl").records
    assert rec["decision_id"] == d.decision_id and rec["chosen"] == d.chosen
    assert set(rec["plans"]) == {"cem", "mcts"} and rec["plans"]["cem"]["status"] == "ok"
    assert "lowest predicted cost" in rec["reason"] and rec["guard"]["allowed"] is True
    assert rec["dry_run"] is True and rec["executed"] is False


def test_same_seed_same_decision():
    a, _ = controller({"cem": service("cem"), "mcts": service("mcts")})
    b, _ = controller({"cem": service("cem"), "mcts": service("mcts")})
    for step in range(3):
        da, db = a.decide(broken_state(step)), b.decide(broken_state(step))
        for n in ("cem", "mcts"):
            assert da.outcomes[n].reply.actions == db.outcomes[n].reply.actions
            assert da.outcomes[n].reply.cost == db.outcomes[n].reply.cost


def test_latency_is_the_slower_planner_not_the_sum():
    slow = {
        "a": service(partial(SlowPlanner, 0.3, **CEM_SMALL), name="a"),
        "b": service(partial(SlowPlanner, 0.4, **CEM_SMALL), name="b"),
    }
    ctl, _ = controller(slow, deadline_ms=3000, preference=("a", "b"))
    ctl.decide(broken_state(0))  # warm up
    d = ctl.decide(broken_state(1))
    assert all(o.status == "ok" for o in d.outcomes.values())
    assert 400 <= d.latency_ms < 650, d.latency_ms  # max(0.3, 0.4) s + planning, far below 0.7 s
    assert d.outcomes["a"].round_trip_ms < d.outcomes["b"].round_trip_ms


def test_one_planner_raising_uses_the_other():
    ctl, _ = controller({"cem": service("cem"), "mcts": service(FailingPlanner, name="mcts")})
    d = ctl.decide(broken_state())
    assert (
        d.outcomes["mcts"].status == "error" and "planner failure drill" in d.outcomes["mcts"].error
    )
    assert d.chosen == "cem" and d.agreement is None


def test_a_hanging_planner_is_survived_within_the_deadline():
    hanging = service(partial(HangingPlanner, 5.0), name="mcts")
    ctl, _ = controller({"cem": service("cem"), "mcts": hanging}, deadline_ms=300)
    t0 = time.perf_counter()
    d = ctl.decide(broken_state(0))
    assert time.perf_counter() - t0 < 0.6
    assert d.outcomes["mcts"].status == "timeout" and d.chosen == "cem"
    t0 = time.perf_counter()
    d = ctl.decide(broken_state(1))  # the hung planner is still busy: not asked again
    assert time.perf_counter() - t0 < 0.3
    assert d.outcomes["mcts"].status == "busy" and d.chosen == "cem"


def test_both_failing_falls_back_to_the_rules():
    ctl, _ = controller(
        {"cem": service(FailingPlanner, name="cem"), "mcts": service(FailingPlanner, name="mcts")}
    )
    d = ctl.decide(broken_state())
    assert d.chosen == "fallback" and "rule-based fallback" in d.reason
    assert d.action == Action(type=ActionType.restart, target="adservice")


def test_dry_run_executes_nothing_but_audits_everything(tmp_path):
    audit = AuditLog(tmp_path / "a.jsonl")
    ctl, ex = controller(
        {"cem": service(FailingPlanner, name="cem")}, audit=audit
    )  # fallback: restart
    for step in range(3):
        d = ctl.decide(broken_state(step * 10))
        assert d.verdict.allowed and d.action.type is ActionType.restart and not d.executed
    assert ex.actions == []
    recs = read_audit(tmp_path / "a.jsonl").records
    assert len(recs) == 3 and all(r["dry_run"] and not r["executed"] for r in recs)


def test_acting_mode_executes_admitted_actions_only():
    guard = ACTING.model_copy(update={"cooldown_steps": 5})
    ctl, ex = controller({"cem": service(FailingPlanner, name="cem")}, guard=guard)
    assert ctl.decide(broken_state(0)).executed
    d = ctl.decide(broken_state(1))  # the same restart during its cooldown
    assert not d.verdict.allowed and not d.executed and "cooldown" in d.verdict.reasons[0]
    assert ex.actions == [Action(type=ActionType.restart, target="adservice")]


def test_a_planner_cannot_bypass_mask_or_guard():
    g = boutique()
    K = 1 + 4 * g.num_services
    # Out of range, then masked (scale_in at 1 replica), then a type the guard does not allow.
    masked = 1 + 2 * g.num_services + g.index("adservice")  # scale_in adservice
    restart = 1 + g.index("adservice")
    state = make_state(g, 0, {"adservice": {"replicas": 1}})
    for bad, why in ((K + 5, "out of range"), (masked, "is masked")):
        ctl, ex = controller(
            {"rogue": service(partial(RoguePlanner, bad), name="rogue")}, guard=ACTING
        )
        d = ctl.decide(state)
        assert d.outcomes["rogue"].status == "error" and why in d.outcomes["rogue"].error
        assert d.chosen == "fallback"
    ctl, ex = controller(
        {"rogue": service(partial(RoguePlanner, restart), name="rogue"), "cem": service("cem")},
        guard=ACTING.model_copy(update={"allowed_types": ("scale_out",)}),
    )
    d = ctl.decide(state)
    assert (
        d.chosen == "rogue" and d.action.type is ActionType.restart
    )  # its fake cost wins the pick
    assert not d.verdict.allowed and not d.executed and ex.actions == []


class StaticDispatcher:
    """Returns fixed replies (a Dispatcher double for the pick rules; no planning)."""

    def __init__(self, replies):
        self.replies, self.names = replies, tuple(replies)

    def dispatch(self, request, timeout_s):
        return {
            n: PlanOutcome(n, "ok", reply=r, round_trip_ms=1.0) for n, r in self.replies.items()
        }

    def close(self):
        pass


def reply(name, first, cost, version=1, noop_cost=1.0):
    return PlanReply(
        planner=name,
        first_action=first,
        action=Action.noop(),
        actions=(first,),
        cost=cost,
        noop_cost=noop_cost,
        weights_version=version,
        search_ms=1.0,
        rows_evaluated=1,
        iterations=1,
        hit_deadline=False,
    )


@pytest.mark.parametrize(
    ("pick", "replies", "chosen"),
    [
        ("lowest_cost", {"cem": reply("cem", 1, 0.5), "mcts": reply("mcts", 2, 0.2)}, "mcts"),
        ("lowest_cost", {"cem": reply("cem", 1, 0.2), "mcts": reply("mcts", 2, 0.2)}, "cem"),  # tie
        (
            "lowest_cost",
            {"cem": reply("cem", 1, 0.5, 2), "mcts": reply("mcts", 2, 0.1, 1)},
            "cem",
        ),  # newer
        ("prefer_mcts", {"cem": reply("cem", 1, 0.1), "mcts": reply("mcts", 2, 0.9)}, "mcts"),
        ("prefer_cem", {"cem": reply("cem", 1, 0.9), "mcts": reply("mcts", 2, 0.1)}, "cem"),
    ],
)
def test_pick_policies(pick, replies, chosen):
    g = boutique()
    ctl = AutohealController(
        g, StaticDispatcher(replies), RecordingExecutor(), config=ControllerConfig(pick=pick)
    )
    d = ctl.decide(make_state(g))
    assert d.chosen == chosen and d.agreement is False
    assert d.action == ctl.space.action(replies[chosen].first_action)


def test_min_improvement_and_min_weights_version():
    g = boutique()
    replies = {"cem": reply("cem", 1, 0.95, version=1, noop_cost=1.0)}
    ctl = AutohealController(
        g,
        StaticDispatcher(replies),
        RecordingExecutor(),
        config=ControllerConfig(min_improvement=0.1),
    )
    d = ctl.decide(make_state(g))
    assert d.chosen == "cem" and d.action == Action.noop() and "< 0.1: wait" in d.reason
    ctl = AutohealController(
        g,
        StaticDispatcher(replies),
        RecordingExecutor(),
        config=ControllerConfig(min_weights_version=2),
    )
    d = ctl.decide(make_state(g))
    assert d.chosen == "fallback" and "older than min_weights_version" in d.reason


def test_controller_validates_replies_itself():
    g = boutique()
    K = 1 + 4 * g.num_services
    for bad in (reply("cem", K, 0.1), reply("cem", -1, 0.1), reply("cem", 1, float("nan"))):
        ctl = AutohealController(g, StaticDispatcher({"cem": bad}), RecordingExecutor())
        d = ctl.decide(make_state(g))
        assert d.chosen == "fallback" and "invalid plan" in d.outcomes["cem"].error


class BrokenDispatcher(StaticDispatcher):
    def dispatch(self, request, timeout_s):
        raise ConnectionError("transport down")


def test_a_broken_transport_falls_back_instead_of_crashing():
    g = boutique()
    ctl = AutohealController(g, BrokenDispatcher({"cem": None}), RecordingExecutor())
    d = ctl.decide(make_state(g, 0, {"adservice": {"health": "down", "replicas": 0}}))
    assert d.chosen == "fallback" and "transport down" in d.reason
    assert d.action == Action(type=ActionType.restart, target="adservice")


def test_duplicate_states_are_shed():
    g = boutique()
    ctl = AutohealController(
        g, StaticDispatcher({"cem": reply("cem", 1, 0.1)}), RecordingExecutor()
    )
    first = ctl.decide(make_state(g, 7))
    again = ctl.decide(make_state(g, 7))
    assert again.duplicate and again.decision_id == first.decision_id and ctl.decisions == 1
