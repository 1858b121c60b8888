"""Episodes, generated transitions, and ``simulate_to_file``: deterministic down to the byte."""

import itertools
import json

import pytest

from aither_wm.data import read_transitions
from aither_wm.errors import ConfigError
from aither_wm.graph import Action, ActionType, Transition
from aither_wm.sim.cli_support import simulate_to_file
from aither_wm.sim.faults import FAULTS
from aither_wm.sim.scenarios import EPOCH_S, generate_transitions, iter_episodes, run_episode
from aither_wm.sim.slo import score_episode


def test_run_episode_is_deterministic_and_labelled(boutique):
    a = run_episode(boutique, seed=5, fault="cache_down", steps=20, onset_step=4)
    b = run_episode(boutique, seed=5, fault="cache_down", steps=20, onset_step=4)
    assert [t.model_dump_json() for t in a] == [t.model_dump_json() for t in b]
    assert len(a) == 20
    assert [t.faults for t in a[:4]] == [[]] * 4 and a[4].faults == ["cache_down"]
    assert [t.timestamp for t in a] == [EPOCH_S + 15.0 * i for i in range(20)]
    for prev, nxt in itertools.pairwise(a):
        assert prev.next_state == nxt.state
    assert Transition.model_validate_json(a[7].model_dump_json()) == a[7]


def test_a_policy_drives_the_episode(boutique):
    seen = []

    def policy(state, space):
        seen.append(space.mask(state).shape[0])
        return (
            Action(type=ActionType.restart, target="redis-cart")
            if state.step == 6
            else Action.noop()
        )

    out = run_episode(boutique, seed=1, fault="cache_down", steps=12, policy=policy, onset_step=3)
    assert seen == [45] * 12
    assert out[6].action.type is ActionType.restart
    assert out[11].faults == []  # the restart removed the fault


def test_unknown_fault_is_refused(boutique):
    with pytest.raises(ConfigError, match="unknown fault"):
        run_episode(boutique, seed=0, fault="gremlins", steps=3)


def test_generate_transitions_mixes_faults_and_fault_free_episodes(boutique):
    episodes = list(iter_episodes(boutique, episodes=12, steps=30, seed=2))
    names = {e.fault.name if e.fault else None for e in episodes}
    assert None in names and len(names - {None}) >= 5
    assert names - {None} <= set(FAULTS)
    stamps = [t.timestamp for e in episodes for t in e.transitions]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    actions = {t.action.type for e in episodes for t in e.transitions}
    assert ActionType.noop in actions and len(actions) >= 3  # the behaviour policy explores
    flat = list(generate_transitions(boutique, episodes=12, steps=30, seed=2))
    assert flat == [t for e in episodes for t in e.transitions]
    score = score_episode(episodes[0].slo, step_seconds=15.0, effects=episodes[0].effects)
    assert score["steps"] == 30 and score["slo_violation_minutes"] >= 0.0


def test_fault_free_only(boutique):
    for e in iter_episodes(boutique, episodes=2, steps=10, seed=0, faults=[]):
        assert e.fault is None and all(t.faults == [] for t in e.transitions)


def test_simulate_to_file_is_byte_identical(tmp_path, graphs_dir):
    graph = graphs_dir / "online-boutique.json"
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    kw = dict(
        steps=45, seed=11, faults=["cache_down", "pod_kill"], episode_steps=20, progress=False
    )
    summary = simulate_to_file(graph, out=a, **kw)
    simulate_to_file(graph, out=b, **kw)
    assert a.read_bytes() == b.read_bytes()
    assert summary["transitions"] == 45 and summary["episodes"] == 3
    assert sum(summary["faults"].values()) == 3
    assert set(summary["faults"]) <= {"none", "cache_down", "pod_kill"}
    json.dumps(summary)
    report = read_transitions(a)
    assert report.is_clean and len(report.transitions) == 45
    assert not list(tmp_path.glob("*.partial"))
    simulate_to_file(graph, out=a, **kw)  # replaces, never appends by default
    assert a.read_bytes() == b.read_bytes()
    simulate_to_file(graph, out=a, append=True, **kw)
    assert a.read_bytes() == b.read_bytes() * 2


def test_simulate_to_file_refuses_bad_arguments(tmp_path, graphs_dir):
    graph = graphs_dir / "online-boutique.json"
    with pytest.raises(ConfigError):
        simulate_to_file(graph, steps=0, seed=0, faults=None, out=tmp_path / "x", progress=False)
    with pytest.raises(ConfigError, match="unknown faults"):
        simulate_to_file(
            graph, steps=5, seed=0, faults=["nope"], out=tmp_path / "x", progress=False
        )


def test_simulate_to_file_is_importable_from_scenarios():
    from aither_wm.sim import scenarios

    assert scenarios.simulate_to_file is simulate_to_file
