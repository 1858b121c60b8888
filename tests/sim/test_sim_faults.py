"""The fault library: registry, targets by kind, propagation, the remedy table's ground truth."""

import numpy as np
import pytest

from aither_wm.errors import ConfigError, GraphError
from aither_wm.graph import Action, ActionType, graph_from_dict
from aither_wm.sim import MeshSimulator
from aither_wm.sim.faults import (
    FAULTS,
    REMEDIES,
    candidate_targets,
    make_fault,
    pick_fault,
    remedy_for,
)

NAMES = {
    "memory_leak", "cpu_saturation", "bad_deploy", "cache_down", "database_fault", "disk_full",
    "network_delay", "pod_kill", "gpu_memory_pressure", "retry_storm",
}  # fmt: skip
NOOP = Action.noop()


def test_registry_and_table_cover_the_same_ten_faults():
    assert set(FAULTS) == NAMES and set(REMEDIES) == NAMES
    for name, row in REMEDIES.items():
        assert set(row.effects) == set(ActionType), name
        assert remedy_for(name) is row.remedy
        if row.remedy is not ActionType.noop:
            assert row.effect(row.remedy) == "fixes", name
    assert remedy_for("bad_deploy") is ActionType.rollback
    assert remedy_for("cpu_saturation") is ActionType.scale_out
    assert remedy_for("pod_kill") is ActionType.noop
    assert REMEDIES["cpu_saturation"].effect(ActionType.restart) == "harmful"


def test_make_fault_refuses_unknown_names_and_parameters(boutique):
    with pytest.raises(ConfigError, match="unknown fault"):
        make_fault("meteor_strike", "frontend")
    with pytest.raises(ConfigError, match="bad parameters"):
        make_fault("memory_leak", "frontend", speed=3)
    with pytest.raises(ConfigError, match="rate_per_step"):
        make_fault("memory_leak", "frontend", rate_per_step=-1.0)
    sim = MeshSimulator(boutique, seed=0)
    with pytest.raises(GraphError):
        sim.inject("pod_kill", target="no-such-service")


def test_targets_follow_service_kinds(social, sockshop):
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert social.kind(pick_fault("cache_down", social, rng).target) == "cache"
        assert social.kind(pick_fault("database_fault", social, rng).target) == "database"
        assert sockshop.kind(pick_fault("disk_full", sockshop, rng).target) in ("database", "queue")
        storm = pick_fault("retry_storm", social, rng)
        assert social.callers(storm.target)
        delay = pick_fault("network_delay", social, rng)
        assert delay.caller in social.callers(delay.target)


def test_targets_fall_back_without_the_preferred_kind():
    g = graph_from_dict({
        "name": "tiny",
        "services": [{"name": "web", "kind": "frontend"}, {"name": "api", "kind": "service"}],
        "edges": [{"from": "web", "to": "api"}],
    })  # fmt: skip
    assert candidate_targets(FAULTS["cache_down"], g) == ["api"]  # called, reachable
    sim = MeshSimulator(g, seed=0)
    for name in sorted(NAMES):
        sim.reset(seed=1)
        sim.inject(pick_fault(name, g, np.random.default_rng(0)))
        for _ in range(3):
            sim.step(NOOP)


def test_cache_down_takes_its_callers_within_steps_and_spares_the_rest(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=4)
    for _ in range(3):
        sim.step(NOOP)
    assert set(sim.true_health().values()) == {"healthy"}
    before = {s: sim.observe().services[s].error_rate for s in boutique.services}
    sim.inject("cache_down", target="redis-cart")
    for _ in range(2):
        result = sim.step(NOOP)
    errors = {s: result.state.services[s].error_rate for s in boutique.services}
    for caller in ("cartservice", "checkoutservice", "frontend"):  # direct and transitive callers
        assert errors[caller] > before[caller] + 0.05, caller
    assert result.slo.violated and result.faults == ("cache_down",)
    callers = {"redis-cart", "cartservice", "checkoutservice", "frontend"}
    health = sim.true_health()
    for s in set(boutique.services) - callers:
        assert health[s] == "healthy", s
        assert errors[s] < 0.01, s


HOLD, AFTER = 4, 10
REMEDIED = sorted(n for n in NAMES if REMEDIES[n].remedy is not ActionType.noop)


def _wrong_action(graph, fault) -> Action:
    """A remedy the table says does not work: on a caller for dependency faults, else on the
    target (scale_out, restart or scale_in, whichever the table marks no_effect or harmful)."""
    callers = graph.callers(fault.target)
    if fault.name in ("cache_down", "database_fault") and callers:
        return Action(type=ActionType.restart, target=callers[0])
    row = REMEDIES[fault.name]
    kind = next(
        t for t in (ActionType.scale_out, ActionType.restart, ActionType.scale_in)
        if row.effect(t) in ("no_effect", "harmful")
    )  # fmt: skip
    return Action(type=kind, target=fault.target)


def _run_case(graph, name: str, which: str, seed: int):
    """Inject, wait for symptoms, act (the right remedy again up to twice while symptoms last,
    as an operator scales out step by step), then no-op. Returns (effect, cleared, violated)."""
    sim = MeshSimulator(graph, seed=seed)
    sim.reset(seed=seed + 100)
    for _ in range(2):
        sim.step(NOOP)
    fault = sim.inject(pick_fault(name, graph, np.random.default_rng(seed)))
    for _ in range(30):
        if fault.is_symptomatic(sim):
            break
        sim.step(NOOP)
    assert fault.is_symptomatic(sim), "the fault never showed"
    for _ in range(4 if name == "retry_storm" else 0):  # let the storm outlive its trigger
        sim.step(NOOP)
    action = fault.remedy_action() if which == "right" else _wrong_action(graph, fault)

    def cleared() -> bool:
        return not fault.is_active or not fault.is_symptomatic(sim)

    first = None
    for _ in range(3 if which == "right" else 1):
        if not sim.action_mask()[sim.action_space.index(action)]:
            break
        effect = sim.step(action).effect
        first = first or effect
        for _ in range(4):
            sim.step(NOOP)
            if cleared():
                break
        if cleared():
            break
    trace, violated = [], []
    for _ in range(AFTER):
        result = sim.step(NOOP)
        trace.append(cleared())
        violated.append(result.slo.violated)
    return first, trace, violated


@pytest.mark.parametrize("graph", ["boutique", "sockshop", "social", "hotel"])
@pytest.mark.parametrize("name", REMEDIED)
def test_the_remedy_clears_the_fault(graph, name, request):
    g = request.getfixturevalue(graph)
    for seed in (0, 1):
        effect, cleared, violated = _run_case(g, name, "right", seed)
        assert effect == "fixes", seed
        assert all(cleared[-HOLD:]), (seed, cleared)
        assert not any(violated[-HOLD:]), (seed, violated)


@pytest.mark.parametrize("graph", ["boutique", "sockshop", "social", "hotel"])
@pytest.mark.parametrize("name", REMEDIED)
def test_a_wrong_remedy_does_not_clear_it(graph, name, request):
    g = request.getfixturevalue(graph)
    for seed in (0, 1):
        effect, cleared, _ = _run_case(g, name, "wrong", seed)
        assert effect in ("no_effect", "harmful"), seed
        assert not all(cleared[-HOLD:]), (seed, cleared)


def test_restart_under_saturation_is_harmful(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    sim.inject("cpu_saturation", target="currencyservice")
    for _ in range(3):
        before = sim.step(NOOP).slo.availability
    result = sim.step(Action(type=ActionType.restart, target="currencyservice"))
    assert result.effect == "harmful"
    assert result.slo.availability < before


def test_leak_returns_after_a_restart_and_leaves_after_a_rollback(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    leak = sim.inject("memory_leak", target="productcatalogservice", rate_per_step=0.05)
    i = leak.index
    while sim.dyn.mem[i] < 0.85:
        sim.step(NOOP)
    sim.step(Action(type=ActionType.restart, target="productcatalogservice"))
    low = sim.dyn.mem[i]
    for _ in range(5):
        sim.step(NOOP)
    assert sim.dyn.mem[i] > low + 0.2 and leak.is_active  # it leaks again
    assert sim.observe().services["productcatalogservice"].previous_version is not None
    rollback = Action(type=ActionType.rollback, target="productcatalogservice")
    assert sim.step(rollback).effect == "fixes"
    assert not leak.is_active and "memory_leak" not in sim.fault_labels


def test_bad_deploy_enables_rollback(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    sim.inject("bad_deploy", target="cartservice")
    state = sim.step(NOOP).state
    rollback = Action(type=ActionType.rollback, target="cartservice")
    assert state.services["cartservice"].previous_version is not None
    assert sim.action_space.is_valid(rollback, state)


def test_pod_kill_heals_with_no_action(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    kill = sim.inject("pod_kill", target="productcatalogservice")
    first = sim.step(NOOP).state.services["productcatalogservice"]
    assert first.health == "degraded" and first.error_rate > 0.05  # brief errors
    assert sim.dyn.restarts[kill.index] == 1
    for _ in range(6):
        result = sim.step(NOOP)
    assert not kill.is_active and result.faults == ()
    assert result.state.services["productcatalogservice"].replicas == 2
    assert sim.true_health()["productcatalogservice"] == "healthy"


def test_any_action_on_a_pod_kill_is_a_false_positive(boutique):
    sim = MeshSimulator(boutique, seed=0)
    cases = {
        Action(type=ActionType.scale_out, target="productcatalogservice"): "false_positive",
        Action(type=ActionType.restart, target="adservice"): "false_positive",
        # restarting the one replica left takes the service down: worse than a false positive
        Action(type=ActionType.restart, target="productcatalogservice"): "harmful",
    }
    for action, expected in cases.items():
        sim.reset(seed=2)
        sim.inject("pod_kill", target="productcatalogservice")
        assert sim.step(action).effect == expected, action


def test_network_delay_times_out_the_caller_and_only_time_removes_it(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    delay = sim.inject(
        "network_delay", target="productcatalogservice", caller="frontend", duration_steps=8
    )
    for _ in range(2):
        result = sim.step(NOOP)
    assert result.state.services["frontend"].error_rate > 0.05  # the caller times out
    assert sim.true_health()["productcatalogservice"] == "healthy"  # the callee looks fine
    wrong = sim.step(Action(type=ActionType.restart, target="frontend"))
    assert wrong.effect == "no_effect"
    for _ in range(2):
        sim.step(NOOP)
    assert delay.is_active and delay.is_symptomatic(sim)
    for _ in range(6):
        result = sim.step(NOOP)
    assert not delay.is_active and not result.slo.violated


def test_acting_without_a_fault_is_a_false_positive(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    assert sim.step(NOOP).effect == "noop"
    scale = Action(type=ActionType.scale_out, target="adservice")
    assert sim.step(scale).effect == "false_positive"


def test_retry_storm_outlives_its_trigger(boutique):
    """Metastable: long after the blip, load is up and goodput down, with no action taken."""
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    i = boutique.index("shippingservice")
    nominal = sim.dyn.offered[i]
    storm = sim.inject("retry_storm", target="shippingservice")
    for _ in range(15):
        result = sim.step(NOOP)
    assert storm.is_active and result.faults == ("retry_storm",)
    assert sim.dyn.offered[i] > 1.5 * nominal  # retries keep the load up...
    assert sim.dyn.calls.err[i] > 0.5 and result.slo.violated  # ...and goodput down


def test_memory_leak_shows_before_the_oom_kill(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.reset(seed=2)
    leak = sim.inject("memory_leak", target="productcatalogservice", rate_per_step=0.04)
    start = sim.step(NOOP).state.services["productcatalogservice"]
    seen = [start]
    while sim.dyn.restarts[leak.index] == 0:
        seen.append(sim.step(NOOP).state.services["productcatalogservice"])
    before = seen[-3]  # two steps before the kill
    assert before.memory_util > start.memory_util + 0.3  # memory ramps
    assert before.latency_p50_ms > 1.3 * start.latency_p50_ms  # latency creeps (GC)
    assert seen[-1].health == "down" and seen[-1].replicas == 0  # then the OOM kill
