"""Closed-loop threshold selection: the known best policy of a grid is found, ties go to the
larger threshold, and a policy that acts wrongly or on fault-free meshes is never chosen."""

from aither_wm.eval.episodes import NoopEpisodePolicy, make_scenarios
from aither_wm.eval.policies import RandomEpisodePolicy, ReactiveEpisodePolicy
from aither_wm.eval.selection import play_score, select_threshold


def by_threshold(graph, tau):
    if tau < 1.0:
        return RandomEpisodePolicy(graph, p_act=0.5)  # acts wrongly, and on healthy meshes
    return ReactiveEpisodePolicy(graph) if tau < 2.0 else NoopEpisodePolicy()


def test_the_runbook_band_is_chosen_and_ties_go_to_the_more_conservative_setting(boutique):
    sc = make_scenarios(seed=1, seeds=1, faults=[None, "cache_down", "bad_deploy"], steps=12,
                        onset_step=2)  # fmt: skip
    cases = [(boutique, sc)]
    tau, rows = select_threshold(cases, by_threshold, ReactiveEpisodePolicy, (0.5, 1.0, 1.5, 3.0))
    assert tau == 1.5
    by = {r["setting"]: r for r in rows}
    assert not by[0.5]["eligible"]  # random: more wrong actions than the runbook
    assert by[3.0]["eligible"]  # noop takes no action at all, but heals nothing
    assert by[3.0]["slo_violation_minutes"] > by[1.5]["slo_violation_minutes"]
    assert by[1.0] | {"setting": 0} == by["baseline"] | {"setting": 0}  # same policy, same figures
    noop = play_score(cases, lambda g: NoopEpisodePolicy())
    assert noop["wrong_or_harmful_actions"] == 0 and noop["fault_free_actions"] == 0


def test_nothing_eligible_falls_back_to_the_largest_threshold(boutique):
    sc = make_scenarios(seed=2, seeds=1, faults=[None, "cache_down"], steps=10, onset_step=2)
    tau, rows = select_threshold(
        [(boutique, sc)], lambda g, t: RandomEpisodePolicy(g, p_act=0.6), ReactiveEpisodePolicy,
        (0.5, 2.0),
    )  # fmt: skip
    assert tau == 2.0 and not any(r["eligible"] for r in rows[1:])
