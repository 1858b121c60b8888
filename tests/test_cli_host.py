"""The host-facing edges of the CLI: the state format (``state example`` -> ``plan --state``),
one-line errors for a wrong file, ``--version``, no abbreviated flags anywhere, shipped graphs
by name from any directory."""

import argparse
import json

import pytest

from aither_wm import __version__
from aither_wm.cli import build_parser, main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck") / "wm.pt"
    argv = ["train", "--graph", "online-boutique", "--source", "toy", "--transitions-steps", "60"]
    assert main([*argv, "--steps", "3", "--batch-size", "8", "--out", str(out), "--json"]) == 0
    return out


def test_state_example_is_what_plan_state_reads(tmp_path, capsys, checkpoint, monkeypatch):
    monkeypatch.chdir(tmp_path)  # shipped graphs are found by name from any directory
    state = tmp_path / "state.json"
    argv = ["state", "example", "--graph", "online-boutique", "--fault", "bad_deploy"]
    assert main([*argv, "--target", "cartservice", "--out", str(state)]) == 0
    data = json.loads(state.read_text())
    assert data["graph"] == "online-boutique" and len(data["services"]) == 11
    assert data["services"]["cartservice"]["previous_version"] is not None  # a bad deploy
    capsys.readouterr()
    argv = ["plan", "--graph", "online-boutique", "--checkpoint", str(checkpoint)]
    assert main([*argv, "--state", str(state), "--planner", "mcts", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["planner"] == "mcts" and reply["action_sequence"]
    assert main(["state", "example", "--graph", "sock-shop"]) == 0  # stdout when no --out
    assert json.loads(capsys.readouterr().out)["graph"] == "sock-shop"


def _one_line_error(capsys, argv, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_wrong_files_get_one_line_naming_them(tmp_path, capsys, checkpoint):
    from aither_wm.graph import load_graph
    from aither_wm.sim.scenarios import generate_transitions

    tr = next(
        iter(generate_transitions(load_graph("online-boutique"), episodes=1, steps=2, seed=0))
    )
    line = tmp_path / "line.json"
    line.write_text(tr.model_dump_json())
    plan = ["plan", "--graph", "online-boutique"]
    err = _one_line_error(capsys, [*plan, "--checkpoint", str(checkpoint), "--state", str(line)])
    assert "transitions-log line" in err and "next_state" in err and "line.json" in err
    good = tmp_path / "state.json"
    good.write_text(tr.next_state.model_dump_json())
    some = tmp_path / "some.json"
    some.write_text('{"not": "a checkpoint"}')
    err = _one_line_error(capsys, [*plan, "--checkpoint", str(some), "--state", str(good)])
    assert "some.json: not a readable checkpoint (it holds JSON" in err
    assert "torch" not in err.split("checkpoint is")[0]  # no torch internals
    err = _one_line_error(capsys, ["train", "--graph", "online-botique", "--source", "toy"])
    assert "did you mean 'online-boutique'" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"aither-wm {__version__}"


def _parsers(p):
    yield p
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _parsers(sub)


def test_no_parser_takes_abbreviated_flags():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 20
    assert [p.prog for p in parsers if p.allow_abbrev] == []
