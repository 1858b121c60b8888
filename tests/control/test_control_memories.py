"""The controller's guard-aware mask, runbook anchor, next-best fallback and failed-action memory."""

from control_helpers import boutique, make_state

from aither_wm.control import (
    AutohealController,
    ControllerConfig,
    GuardConfig,
    LocalDispatcher,
    PlanReply,
    RecordingExecutor,
)
from aither_wm.control.guard import SafetyGuard
from aither_wm.graph import Action, ActionType
from aither_wm.graph.actions import ActionSpace

ACTING = GuardConfig(
    dry_run=False, cooldown_steps=3, max_actions_per_window=100, max_service_fraction=1.0
)


class Scripted:
    """Answers every request with a fixed first action and costs; records the requests."""

    def __init__(
        self, action: int, cost: float, noop_cost: float, anchor_cost: float | None = None
    ):
        self.action, self.cost, self.noop_cost, self.anchor_cost = (
            action,
            cost,
            noop_cost,
            anchor_cost,
        )
        self.requests = []

    def plan(self, request):
        self.requests.append(request)
        return PlanReply(
            planner="cem", first_action=self.action, action=Action.noop(), actions=(self.action,),
            cost=self.cost, noop_cost=self.noop_cost, weights_version=1, search_ms=0.1,
            rows_evaluated=1, iterations=1, hit_deadline=False,
            anchor_cost=self.anchor_cost if request.anchor is not None else None,
        )  # fmt: skip


def down(step):
    return make_state(
        boutique(), step, {"adservice": {"health": "down", "replicas": 0, "error_rate": 1.0}}
    )


def ctl(planner, **cfg):
    g = boutique()
    ex = RecordingExecutor()
    c = AutohealController(g, LocalDispatcher({"cem": planner}), ex,
                           config=ControllerConfig(guard=ACTING, pick="prefer_cem", **cfg))  # fmt: skip
    return c, ex


def test_guard_refused_lists_what_check_would_refuse():
    g = boutique()
    space = ActionSpace(g)
    guard = SafetyGuard(ACTING, num_services=g.num_services)
    restart = Action(type=ActionType.restart, target="adservice")
    assert guard.admit(restart, 0).allowed
    acts = [space.action(k) for k in range(space.num_actions)]
    refused = guard.refused(acts, 1)
    assert refused == [i for i, a in enumerate(acts) if a.target == "adservice"]
    assert guard.refused(acts, 3) == []  # cooldown over


def test_requests_leave_out_guarded_actions_and_anchor_on_the_runbook():
    space = ActionSpace(boutique())
    restart = space.index(Action(type=ActionType.restart, target="adservice"))
    p = Scripted(restart, cost=1.0, noop_cost=5.0)
    c, ex = ctl(p, anchor_runbook=True)
    c.decide(down(0))
    assert p.requests[0].anchor == restart and p.requests[0].blocked == ()
    assert ex.actions == [Action(type=ActionType.restart, target="adservice")]
    c.decide(down(1))
    blocked = set(p.requests[1].blocked)
    assert restart in blocked and 0 not in blocked  # cooldown on adservice
    assert p.requests[1].anchor == 0  # the runbook's restart is refused now: anchor = wait


def test_runbook_kept_unless_the_plan_beats_it_by_min_improvement():
    g = boutique()
    space = ActionSpace(g)
    other = space.index(Action(type=ActionType.scale_out, target="frontend"))
    c, _ = ctl(
        Scripted(other, cost=1.0, noop_cost=5.0, anchor_cost=1.1),
        anchor_runbook=True,
        min_improvement=0.25,
    )
    d = c.decide(down(0))
    assert d.action == Action(type=ActionType.restart, target="adservice") and "runbook" in d.reason
    c, _ = ctl(
        Scripted(other, cost=1.0, noop_cost=5.0, anchor_cost=3.0),
        anchor_runbook=True,
        min_improvement=0.25,
    )
    assert c.decide(down(0)).action == space.action(other)


def test_acting_where_the_runbook_waits_needs_min_improvement_wait():
    g = boutique()
    space = ActionSpace(g)
    other = space.index(Action(type=ActionType.scale_out, target="frontend"))
    healthy = make_state(g, 0)  # the runbook proposes no-op: its anchor is "wait"
    gains_half = Scripted(other, cost=1.0, noop_cost=1.5, anchor_cost=1.5)
    c, _ = ctl(gains_half, anchor_runbook=True, min_improvement=0.25, min_improvement_wait=1.0)
    d = c.decide(healthy)
    assert d.action == Action.noop() and "< 1: wait" in d.reason
    c, _ = ctl(gains_half, anchor_runbook=True, min_improvement=0.25, min_improvement_wait=0.4)
    assert c.decide(healthy).action == space.action(other)
    c, _ = ctl(gains_half, anchor_runbook=True, min_improvement=0.25)  # None: min_improvement
    assert c.decide(healthy).action == space.action(other)
    # the plan is the runbook's own proposal: kept, whatever it gains over waiting
    restart = space.index(Action(type=ActionType.restart, target="adservice"))
    c, _ = ctl(
        Scripted(restart, cost=1.0, noop_cost=1.1, anchor_cost=1.0),
        anchor_runbook=True, min_improvement=0.25, min_improvement_wait=9.0,
    )  # fmt: skip
    assert c.decide(down(0)).action == space.action(restart)
    # ... unless a veto threshold asks the runbook's action to beat waiting too
    c, _ = ctl(
        Scripted(restart, cost=1.0, noop_cost=1.1, anchor_cost=1.0),
        anchor_runbook=True, min_improvement=0.25, min_improvement_runbook=0.5,
    )  # fmt: skip
    d = c.decide(down(0))
    assert d.action == Action.noop() and "< 0.5: wait" in d.reason
    # replacing the runbook's action still needs min_improvement alone
    c, _ = ctl(
        Scripted(other, cost=1.0, noop_cost=5.0, anchor_cost=1.5),
        anchor_runbook=True, min_improvement=0.25, min_improvement_wait=9.0,
    )  # fmt: skip
    assert c.decide(down(0)).action == space.action(other)


def test_an_action_whose_target_still_looks_broken_is_penalised_until_the_incident_ends():
    space = ActionSpace(boutique())
    restart = space.index(Action(type=ActionType.restart, target="adservice"))
    p = Scripted(restart, cost=1.0, noop_cost=5.0)
    c, _ = ctl(p, recovery_steps=2, failed_action_penalty=1.5)
    for step in range(4):
        c.decide(down(step))
    assert dict(p.requests[-1].penalties) == {restart: 1.5}
    c.decide(make_state(boutique(), 4))  # healthy: the incident is over
    c.decide(down(5))
    assert p.requests[-1].penalties == ()
