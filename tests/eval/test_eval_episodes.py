"""Episodes under policies: the oracle beats doing nothing on a fault with a known remedy; the
same seed gives the same result; parameterised faults land on the same target."""

import pytest

from aither_wm.errors import ConfigError
from aither_wm.eval.episodes import NoopEpisodePolicy, Scenario, make_scenarios, run_scenario
from aither_wm.eval.metrics import score_record
from aither_wm.eval.oracle import OraclePolicy
from aither_wm.eval.policies import RandomEpisodePolicy, ReactiveEpisodePolicy
from aither_wm.graph.state import ActionType
from aither_wm.sim.faults import remedy_for


@pytest.mark.parametrize("candidates", ["remedy", "observed"])
@pytest.mark.parametrize("fault", ["cache_down", "bad_deploy"])
def test_oracle_beats_noop_on_a_fault_with_a_known_remedy(boutique, fault, candidates):
    s = Scenario(fault, seed=11, mesh_seed=2, steps=16, onset_step=2)
    noop = score_record(run_scenario(boutique, s, NoopEpisodePolicy()))
    oracle_rec = run_scenario(boutique, s, OraclePolicy(horizon=6, candidates=candidates))
    oracle = score_record(oracle_rec)
    assert noop["slo_violation_minutes"] > 1.0  # the fault hurts when nobody acts
    assert oracle["slo_violation_minutes"] < noop["slo_violation_minutes"]
    assert oracle["fixes"] >= 1
    if candidates == "remedy":  # told the culprit, it never touches another service
        assert oracle["harmful_actions"] == 0
    kind = remedy_for(fault).value
    assert any(a.startswith(kind) for a in oracle_rec.actions)


def test_oracle_waits_without_faults_and_is_never_worse_than_noop(boutique):
    rec = run_scenario(boutique, Scenario(None, 5, 1, 12, 2), OraclePolicy(horizon=4))
    assert set(rec.effects) == {"noop"}, rec.actions
    observed = OraclePolicy(horizon=4, candidates="observed")
    assert set(run_scenario(boutique, Scenario(None, 5, 1, 12, 2), observed).effects) == {"noop"}
    # pod_kill: the remedy table says "wait", but a restart also starts the crash-looping pod now
    # (no back-off) and the oracle, planning on the true physics, may take it; never for worse
    s = Scenario("pod_kill", 5, 1, 12, 2)
    oracle = score_record(run_scenario(boutique, s, OraclePolicy(horizon=4)))
    noop = score_record(run_scenario(boutique, s, NoopEpisodePolicy()))
    assert oracle["slo_violation_minutes"] <= noop["slo_violation_minutes"]


def test_same_seed_same_record(boutique):
    s = Scenario("retry_storm", seed=3, mesh_seed=4, steps=14, onset_step=2)
    for make in (lambda: RandomEpisodePolicy(boutique, p_act=0.5), lambda: ReactiveEpisodePolicy(boutique),
                 lambda: OraclePolicy(horizon=3)):  # fmt: skip
        a, b = run_scenario(boutique, s, make()), run_scenario(boutique, s, make())
        assert (a.violated, a.availability, a.effects, a.actions) == (
            b.violated,
            b.availability,
            b.effects,
            b.actions,
        )


def test_scenarios_are_deterministic_and_replicates_differ():
    kw = dict(seed=7, seeds=3, faults=[None, "cache_down"], steps=10, episodes=2)
    a, b = make_scenarios(**kw), make_scenarios(**kw)
    assert a == b and len(a) == 3 * 2 * 2
    assert len({s.mesh_seed for s in a}) == 3  # one mesh per replicate
    assert [s.replicate for s in a] == [0] * 4 + [1] * 4 + [2] * 4


def test_parameterised_fault_hits_the_target_the_name_draws(boutique):
    plain = Scenario("cpu_saturation", seed=21, mesh_seed=1, steps=8, onset_step=2)
    strong = Scenario(
        "cpu_saturation", seed=21, mesh_seed=1, steps=8, onset_step=2, params={"target_rho": 1.6}
    )
    a, b = (
        run_scenario(boutique, plain, NoopEpisodePolicy()),
        run_scenario(boutique, strong, NoopEpisodePolicy()),
    )
    assert a.target == b.target and b.params == {"target_rho": 1.6}
    assert sum(b.violated) >= sum(a.violated)


def test_bad_scenarios_are_refused(boutique):
    with pytest.raises(ConfigError):
        Scenario("no_such_fault", 1, 1, 10)
    with pytest.raises(ConfigError):
        Scenario("cache_down", 1, 1, 10, onset_step=10)
    with pytest.raises(ConfigError):
        Scenario(None, 1, 1, 10, params={"x": 1.0})
    with pytest.raises(ConfigError):
        Scenario("cache_down", 1, 1, 10, params={"nope": 1.0}).fault_spec(boutique)


def test_remedy_kinds_exist():
    assert remedy_for("cache_down") is ActionType.restart
