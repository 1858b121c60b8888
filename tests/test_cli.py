"""The CLI: one JSON object on stdout with --json, one-line errors with exit 2 on bad input."""

import json

import pytest

from aither_wm.cli import main


def test_bench_sigreg_json_is_one_object_with_the_contract_keys(capsys, monkeypatch):
    import aither_wm.bench.sigreg as bench

    real = bench.run_sigreg_bench
    monkeypatch.setattr(
        bench, "run_sigreg_bench", lambda seed=0: real(ns=(64,), num_slices=64, seed=seed)
    )
    assert main(["bench", "sigreg", "--json"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out)
    cases = {r["case"] for r in result["rows"]}
    assert {
        "normal",
        "collapsed",
        "collapsed_jitter",
        "bimodal_rank1",
        "bimodal_iid",
        "low_rank4",
        "scaled_half",
        "mean_shift",
        "student_t3",
    } <= cases
    assert {"n", "case", "sigreg", "sigreg_axes", "seed_form", "vicreg"} <= set(result["rows"][0])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--graph", "graphs/missing.json"], "cannot read graph file"),
        (
            [
                "plan",
                "--checkpoint",
                "nope.pt",
                "--state",
                "nope.json",
                "--graph",
                "graphs/online-boutique.json",
            ],
            "nope.json",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_bad_graph_file_is_named(tmp_path, capsys):
    bad = tmp_path / "g.json"
    bad.write_text(
        json.dumps({"name": "g", "services": [{"name": "a", "kind": "blob"}], "edges": []})
    )
    assert main(["train", "--graph", str(bad), "--source", "toy"]) == 2
    assert "services[0]" in capsys.readouterr().err


def test_train_writes_a_loadable_checkpoint(tmp_path, capsys):
    from aither_wm.train import load_checkpoint

    out = tmp_path / "wm.pt"
    code = main(
        [
            "train",
            "--graph",
            "graphs/online-boutique.json",
            "--source",
            "toy",
            "--transitions-steps",
            "120",
            "--steps",
            "3",
            "--batch-size",
            "8",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"] == str(out) and result["transitions"] == 120
    assert load_checkpoint(out).meta["graph"] == "online-boutique"


def _commands(parser):
    """Every command path (``["bench", "sigreg"]``...) of the parser."""
    import argparse

    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                children = _commands(sub)
                out += [[name, *c] for c in children] if children else [[name]]
    return out


def test_every_command_has_help_and_no_flag_abbreviations(capsys):
    from aither_wm.cli import build_parser

    commands = _commands(build_parser())
    assert ["bench", "autoheal"] in commands and ["live", "heal"] in commands
    assert ["plugins", "list"] in commands and ["tune", "lambda"] in commands
    for path in commands:
        with pytest.raises(SystemExit) as e:
            main([*path, "--help"])
        assert e.value.code == 0, path
        assert f"usage: aither-wm {' '.join(path)}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:  # --stat is not taken for --state
        main(["plan", "--checkpoint", "x.pt", "--stat", "s.json"])
    assert e.value.code == 2


def test_bench_flags_apply_only_where_they_are_used(capsys):
    for argv in (
        ["bench", "sim", "--seed", "1"],
        ["bench", "sigreg", "--steps", "3"],
        ["bench", "train", "--steps", "3"],
        ["bench", "reliability", "--graph", "g"],
    ):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, argv
        assert "unrecognized arguments" in capsys.readouterr().err


def test_defaults_come_from_the_config_models():
    from aither_wm.cli import build_parser
    from aither_wm.config import TrainConfig
    from aither_wm.live.config import HealConfig, LiveMeshConfig

    parser = build_parser()
    train = parser.parse_args(["train"])
    assert (train.steps, train.batch_size, train.lam, train.device) == (
        TrainConfig().steps,
        TrainConfig().batch_size,
        TrainConfig().lam,
        TrainConfig().device,
    )
    heal = parser.parse_args(["live", "heal", "--fault", "redis_kill"])
    assert heal.duration == HealConfig(fault="redis_kill").duration_s
    assert heal.policy == HealConfig(fault="redis_kill").policy
    assert parser.parse_args(["live", "up"]).rps == LiveMeshConfig().rps


def test_bench_autoheal_passes_its_flags_through(monkeypatch, capsys):
    import aither_wm.bench.autoheal as bench

    seen = {}

    def fake(graph_path, **kwargs):
        seen.update(graph=str(graph_path), **kwargs)
        kwargs["progress"]("fit", {"n": 1, "total": 2})
        return {"graph": "g"}

    monkeypatch.setattr(bench, "run_autoheal_bench", fake)
    argv = [
        "bench",
        "autoheal",
        "--quick",
        "--graph",
        "graphs/online-boutique.json",
        "--seed",
        "3",
        "--seeds",
        "2",
        "--episodes",
        "1",
        "--out",
        "o",
        "--checkpoint",
        "c.pt",
        "--json",
    ]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out) == {"graph": "g"}
    assert seen["graph"] == "graphs/online-boutique.json"
    assert {
        k: seen[k] for k in ("seed", "seeds", "episodes", "quick", "out_dir", "checkpoint")
    } == {"seed": 3, "seeds": 2, "episodes": 1, "quick": True, "out_dir": "o", "checkpoint": "c.pt"}
