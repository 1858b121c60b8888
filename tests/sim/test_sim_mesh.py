"""The simulator: determinism, valid observations on every graph, masks, clones, SLO."""

from pathlib import Path

import numpy as np
import pytest

from aither_wm.errors import ActionError
from aither_wm.graph import Action, ActionType, MeshState, ServiceState, load_graph
from aither_wm.graph.generate import generate_graph
from aither_wm.sim import MeshSimulator, SimConfig

NOOP = Action.noop()
SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "graphs").glob("*.json"))


def _trajectory(graph, seed: int, steps: int = 12) -> list[str]:
    sim = MeshSimulator(graph, seed=seed)
    sim.reset(seed=seed)
    sim.inject("cpu_saturation", target="currencyservice")
    out = [sim.observe().model_dump_json()]
    for t in range(steps):
        action = Action(type=ActionType.scale_out, target="currencyservice") if t == 3 else NOOP
        out.append(sim.step(action).state.model_dump_json())
    return out


def test_same_seed_same_trajectory(boutique):
    assert _trajectory(boutique, 7) == _trajectory(boutique, 7)
    assert _trajectory(boutique, 7) != _trajectory(boutique, 8)


def test_observing_draws_nothing(boutique):
    a, b = MeshSimulator(boutique, seed=1), MeshSimulator(boutique, seed=1)
    for _ in range(3):
        a.observe()
    assert a.step(NOOP).state == b.step(NOOP).state


def test_clone_replays_exactly_and_is_independent(boutique):
    sim = MeshSimulator(boutique, seed=3)
    sim.inject("bad_deploy", target="cartservice")
    sim.step(NOOP)
    twin = sim.clone()
    rollback = Action(type=ActionType.rollback, target="cartservice")
    assert twin.step(rollback).effect == "fixes"
    assert twin.active_faults == () and sim.fault_labels == ("bad_deploy",)
    fresh = sim.clone()
    for _ in range(4):
        assert sim.step(NOOP).state == fresh.step(NOOP).state


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_graph_simulates_valid_states(name, graphs_dir):
    graph = load_graph(graphs_dir / f"{name}.json")
    sim = MeshSimulator(graph, seed=0)
    assert set(sim.true_health().values()) == {"healthy"}
    violated = 0
    for _ in range(8):
        result = sim.step(NOOP)
        violated += result.slo.violated
        state = MeshState.model_validate_json(result.state.model_dump_json())  # full validation
        assert state == result.state
        state.check_graph(graph)
    assert violated == 0  # nominal traffic meets the SLO
    assert result.slo.availability > 0.999


def test_a_generated_1000_service_graph_simulates():
    graph = generate_graph(1000, seed=0)
    sim = MeshSimulator(graph, seed=0)
    sim.inject("cache_down", target=next(s for s in graph.services if graph.kind(s) == "cache"))
    for _ in range(3):
        result = sim.step(NOOP)
    MeshState.model_validate_json(result.state.model_dump_json())
    assert len(result.state.services) == 1000 and result.faults == ("cache_down",)


def test_fast_states_equal_validated_ones(boutique):
    state = MeshSimulator(boutique, seed=0).observe()
    for s in state.services.values():
        assert ServiceState.model_validate(s.model_dump()) == s
        assert s.latency_p99_ms >= s.latency_p50_ms and 0.0 <= s.cpu_util <= 1.0


def test_mask_matches_the_action_space(boutique):
    sim = MeshSimulator(boutique, seed=0)
    sim.inject("bad_deploy", target="cartservice")
    state = sim.step(Action(type=ActionType.scale_in, target="adservice")).state
    expected = sim.action_space.mask(state).numpy()
    np.testing.assert_array_equal(sim.action_mask(), expected)
    assert not expected[
        sim.action_space.index(Action(type=ActionType.scale_in, target="adservice"))
    ]


def test_masked_actions_raise(boutique):
    sim = MeshSimulator(boutique, seed=0)
    no_prev = next(s for s, v in sim.observe().services.items() if v.previous_version is None)
    with pytest.raises(ActionError, match="masked"):
        sim.step(Action(type=ActionType.rollback, target=no_prev))
    with pytest.raises(ActionError):
        sim.step(Action(type=ActionType.restart, target="not-a-service"))


def test_scale_out_is_useless_until_warm(boutique):
    cfg = SimConfig(warmup_steps=3)
    sim = MeshSimulator(boutique, cfg, seed=0)
    i = boutique.index("currencyservice")
    sim.step(Action(type=ActionType.scale_out, target="currencyservice"))
    assert sim.observe().services["currencyservice"].replicas == 3
    for _ in range(2):
        assert sim.dyn.ready[i] == 2
        sim.step(NOOP)
    sim.step(NOOP)
    assert sim.dyn.ready[i] == 3


def test_reward_is_minus_violation_minus_cost(boutique):
    sim = MeshSimulator(boutique, seed=0)
    r = sim.step(Action(type=ActionType.restart, target="adservice"))
    assert r.reward == pytest.approx(-sim.config.cost_restart)
    sim.inject("cache_down", target="redis-cart")
    r = sim.step(NOOP)
    assert r.slo.violated and r.reward == pytest.approx(-1.0)


def test_overload_liveness_kills_cascade_with_back_off(boutique):
    """A restart under heavy saturation: liveness kills, growing back-off, capacity lost."""
    sim = MeshSimulator(boutique, seed=0)
    i = boutique.index("currencyservice")
    sim.inject("cpu_saturation", target="currencyservice", target_rho=1.45)
    sim.step(Action(type=ActionType.restart, target="currencyservice"))
    for _ in range(8):
        sim.step(NOOP)
    assert sim.dyn.restarts[i] >= 2
    assert sim.dyn.backoff_s[i] > sim.config.restart_backoff_s
