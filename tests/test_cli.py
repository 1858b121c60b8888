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
    assert {"normal", "collapsed", "collapsed_jitter", "bimodal_rank1", "bimodal_iid", "low_rank4",
            "scaled_half", "mean_shift", "student_t3"} <= cases  # fmt: skip
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
    code = main(["train", "--graph", "graphs/online-boutique.json", "--source", "toy", "--transitions-steps", "120",
                 "--steps", "3", "--batch-size", "8", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["checkpoint"] == str(out) and result["transitions"] == 120
    assert load_checkpoint(out).meta["graph"] == "online-boutique"
