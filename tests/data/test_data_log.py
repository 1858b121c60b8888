"""The transitions log: append-only writes; reads that survive anything and keep good lines."""

import json
from pathlib import Path

import pytest

from aither_wm.data import TransitionLogWriter, iter_transitions, read_transitions
from aither_wm.errors import LogError
from aither_wm.graph import load_graph
from aither_wm.sim.scenarios import run_episode

GRAPH = Path(__file__).resolve().parents[2] / "graphs" / "online-boutique.json"


@pytest.fixture(scope="module")
def transitions():
    return run_episode(load_graph(GRAPH), seed=0, fault="cache_down", steps=6, onset_step=1)


def _line(t) -> bytes:
    return t.model_dump_json().encode() + b"\n"


def test_appending_never_rewrites_earlier_lines(tmp_path, transitions):
    path = tmp_path / "log" / "t.jsonl"
    with TransitionLogWriter(path) as w:
        assert w.extend(transitions[:3]) == 3
    first = path.read_bytes()
    with TransitionLogWriter(path, fsync=True) as w:
        w.append(transitions[3])
    data = path.read_bytes()
    assert data.startswith(first) and data.count(b"\n") == 4
    assert read_transitions(path).transitions == transitions[:4]


def test_writer_refuses_misuse(tmp_path, transitions):
    w = TransitionLogWriter(tmp_path / "t.jsonl")
    with pytest.raises(LogError, match="expected a Transition"):
        w.append({"not": "a transition"})
    w.close()
    with pytest.raises(LogError, match="closed"):
        w.append(transitions[0])
    with pytest.raises(LogError, match="cannot open"):
        TransitionLogWriter(tmp_path / "t.jsonl" / "below-a-file")


def test_reader_survives_bad_lines_and_keeps_every_good_one(tmp_path, transitions):
    good = [_line(t) for t in transitions]
    wrong_schema = json.loads(good[0])
    wrong_schema["schema_version"] = 99
    no_schema = json.loads(good[0])
    del no_schema["schema_version"]
    bad_value = json.loads(good[1])
    bad_value["state"]["services"]["frontend"]["cpu_util"] = 2.0
    lines = [
        good[0],
        b"this is not json\n",  # 2
        good[1],
        good[2][: len(good[2]) // 2] + b"\n",  # 4: truncated
        b"\xff\xfe garbage \x80\n",  # 5: not UTF-8
        json.dumps(wrong_schema).encode() + b"\n",  # 6
        json.dumps(no_schema).encode() + b"\n",  # 7
        json.dumps(bad_value).encode() + b"\n",  # 8
        b"[1, 2, 3]\n",  # 9
        b"\n",  # 10: blank, skipped
        good[3],
        good[4],
        good[5][:40],  # 13: torn tail (crash mid-append)
    ]
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(lines))
    quarantine = tmp_path / "q" / "bad.jsonl"
    report = read_transitions(path, quarantine=quarantine)
    assert report.transitions == [transitions[i] for i in (0, 1, 3, 4)]
    reasons = dict(report.bad_lines)
    assert sorted(reasons) == [2, 4, 5, 6, 7, 8, 9, 13]
    assert "invalid JSON" in reasons[2] and "invalid JSON" in reasons[4]
    assert "not UTF-8" in reasons[5]
    assert "schema_version 99" in reasons[6] and "missing schema_version" in reasons[7]
    assert "cpu_util" in reasons[8] and "JSON object" in reasons[9]
    assert reasons[13].startswith("torn last line")
    assert report.torn_tail and report.num_bad == 8 and not report.is_clean
    records = [json.loads(x) for x in quarantine.read_text().splitlines()]
    assert [r["line"] for r in records] == [2, 4, 5, 6, 7, 8, 9, 13]
    assert records[0]["raw"] == "this is not json" and records[0]["source"] == str(path)


def test_a_complete_last_line_without_newline_is_kept(tmp_path, transitions):
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(transitions[0]) + _line(transitions[1]).rstrip(b"\n"))
    report = read_transitions(path)
    assert report.transitions == transitions[:2] and not report.torn_tail and report.is_clean


def test_a_writer_terminates_a_torn_tail_before_appending(tmp_path, transitions):
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(transitions[0]) + _line(transitions[1])[:25])  # crashed mid-append
    with TransitionLogWriter(path) as w:
        w.append(transitions[2])
    report = read_transitions(path)
    assert report.transitions == [transitions[0], transitions[2]]
    assert [n for n, _ in report.bad_lines] == [2] and not report.torn_tail


def test_iterator_raises_by_default_and_reports_on_request(tmp_path, transitions):
    path = tmp_path / "t.jsonl"
    path.write_bytes(_line(transitions[0]) + b"{oops\n" + _line(transitions[1]))
    with pytest.raises(LogError, match="line 2"):
        list(iter_transitions(path))
    errors = []
    got = list(iter_transitions(path, on_error=lambda n, why, raw: errors.append((n, raw))))
    assert got == transitions[:2] and errors == [(2, b"{oops\n")]
    with pytest.raises(LogError, match="cannot read"):
        read_transitions(tmp_path / "missing.jsonl")


def test_a_control_character_line_is_bad_not_blank(tmp_path):
    from aither_wm.data.log import read_transitions

    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\x1c\n")
    report = read_transitions(path)
    assert report.transitions == [] and report.num_bad == 1
