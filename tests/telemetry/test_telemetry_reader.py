"""The telemetry reader: every failure mode is handled and reported, never a crash or a silent 0."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from telemetry_helpers import HEADER, T0, row, time_string, write_day

from aither_wm.errors import TelemetryError
from aither_wm.telemetry import FIELDS, read_telemetry, service_of

SHIPPED = Path(__file__).resolve().parents[2] / "datasets" / "nezha-online-boutique"
CPU = FIELDS.index("cpu_util")


def test_pod_names_lose_their_replica_hashes():
    assert service_of("basket-579f59597d-wc2lz") == "basket"
    assert service_of("ad-service-5f6585d649-fnmft") == "ad-service"
    assert service_of("kv-store-0") == "kv-store"
    assert service_of("gateway") == "gateway"


def test_a_clean_folder_reads_without_notes_but_the_unknown_edge(tmp_path):
    write_day(tmp_path, edges=[("alpha", "beta"), ("alpha", "10.0.0.7")])
    tel = read_telemetry(tmp_path)
    assert tel.graph.services == ("alpha", "beta")
    assert tel.graph.entrypoints == ("alpha",)
    assert list(tel.graph.digraph.edges) == [("alpha", "beta")]
    assert set(tel.report.counts()) == {"unknown_edge"}
    day = tel.days[0]
    assert day.fields.shape == (40, 2, len(FIELDS)) and day.step_s == 60.0
    assert day.fields[0, 0, CPU] == pytest.approx(0.2)
    s = day.state(3)
    assert s.services["beta"].latency_p99_ms == pytest.approx(100.0)
    assert s.services["beta"].error_rate == 0.0 and s.services["beta"].replicas == 1


def test_truncated_nan_bad_cells_and_missing_minutes_are_reported_and_filled(tmp_path):
    pod = "alpha-5f6585d649-abcde"
    rows = [row(pod, T0 + 60 * k, cpu=10.0 + k) for k in range(40)]
    rows[5] = rows[5].replace(",12,", ",NaN,")  # memory NaN
    rows[6] = rows[6].replace(",12,", ",oops,")  # not a number
    del rows[10:14]  # four missing minutes
    rows[-1] = rows[-1][:25]  # a truncated last line
    write_day(
        tmp_path,
        pods={
            pod: rows,
            "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
        },
    )
    tel = read_telemetry(tmp_path)
    kinds = tel.report.counts()
    for k in ("truncated_row", "nan_cell", "bad_cell", "missing_minutes"):
        assert k in kinds, (k, tel.report.summary())
    day = tel.days[0]
    a = tel.graph.services.index("alpha")
    assert np.isfinite(day.fields).all()
    # missing minutes carry the last value forward (not 0); the truncated last row too
    assert day.fields[10:14, a, CPU] == pytest.approx([0.19] * 4)
    assert day.fields[-1, a, CPU] == pytest.approx(0.48)
    assert not day.observed[10:14, a].any() and day.observed[9, a]
    mem = FIELDS.index("memory_util")
    assert day.fields[5, a, mem] == pytest.approx(0.12) and day.fields[6, a, mem] == pytest.approx(
        0.12
    )


def test_duplicate_timestamps_are_averaged_and_reported(tmp_path):
    pod = "alpha-5f6585d649-abcde"
    rows = [row(pod, T0 + 60 * k, cpu=10.0) for k in range(40)]
    rows.insert(8, row(pod, T0 + 60 * 7 + 1, cpu=30.0))  # a second row for minute 7
    write_day(
        tmp_path,
        pods={
            pod: rows,
            "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
        },
    )
    tel = read_telemetry(tmp_path)
    assert "duplicate_time" in tel.report.counts()
    assert tel.days[0].fields[7, 0, CPU] == pytest.approx(0.20)


def test_a_pod_restarted_under_a_new_name_is_one_service(tmp_path):
    old, new = "alpha-5f6585d649-abcde", "alpha-5f6585d649-zzzzz"
    pods = {
        old: [row(old, T0 + 60 * k, cpu=10.0) for k in range(20)],
        new: [row(new, T0 + 60 * k, cpu=30.0) for k in range(21, 40)],
        "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
    }
    write_day(tmp_path, pods=pods)
    tel = read_telemetry(tmp_path)
    assert tel.graph.services == ("alpha", "beta")
    assert len(tel.report.of("restarted_pod")) == 1
    day = tel.days[0]
    assert day.fields[5, 0, CPU] == pytest.approx(0.1) and day.fields[30, 0, CPU] == pytest.approx(
        0.3
    )
    assert day.fields[20, 0, CPU] == pytest.approx(0.1)  # the minute between: carried forward
    assert (day.replicas[:, 0] == 1).all()


def test_replicas_are_aggregated(tmp_path):
    a1, a2 = "alpha-5f6585d649-abcde", "alpha-5f6585d649-vwxyz"
    pods = {
        a1: [row(a1, T0 + 60 * k, cpu=10.0, lat_s=0.05) for k in range(40)],
        a2: [row(a2, T0 + 60 * k, cpu=30.0, lat_s=0.2) for k in range(40)],
        "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
    }
    write_day(tmp_path, pods=pods)
    tel = read_telemetry(tmp_path)
    s = tel.days[0].state(3).services["alpha"]
    assert s.replicas == 2 and s.cpu_util == pytest.approx(0.2)
    assert s.latency_p50_ms == pytest.approx(200.0) and s.request_rate_rps == pytest.approx(8.0)
    assert tel.report.of("replicas")


def test_a_corrupt_timestamp_column_falls_back_to_the_time_strings(tmp_path):
    pod = "alpha-5f6585d649-abcde"
    rows = [row(pod, T0 + 60 * k, cpu=10.0 + k, stamp=T0 + 200_000_000 + 60 * k) for k in range(40)]
    write_day(
        tmp_path,
        pods={
            pod: rows,
            "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
        },
    )
    tel = read_telemetry(tmp_path)
    (note,) = tel.report.of("clock")
    assert "time string used on 40" in note.message
    assert tel.days[0].fields[25, 0, CPU] == pytest.approx(0.35)


def test_fault_time_disagreement_is_resolved_by_the_metrics_and_reported(tmp_path):
    pod = "alpha-5f6585d649-abcde"
    onset = 30  # cpu jumps at minute 30
    rows = [
        row(pod, T0 + 60 * k, cpu=10.0 + (0.1 * (k % 3)) + (60.0 if k >= onset else 0))
        for k in range(40)
    ]
    true_t = T0 + 60 * (onset - 1) + 20  # shows first in the row of minute 30
    faults = [
        {"inject_time": time_string(true_t)[:19], "inject_timestamp": str(true_t + 120),
         "inject_pod": pod, "inject_type": "cpu_contention"},
        {"inject_time": "not a time", "inject_timestamp": str(T0 + 60 * 5),
         "inject_pod": "ghost-579f59597d-aaaaa", "inject_type": "return"},
    ]  # fmt: skip
    write_day(
        tmp_path,
        pods={
            pod: rows,
            "beta-579f59597d-fghij": [row("beta-579f59597d-fghij", T0 + 60 * k) for k in range(40)],
        },
        faults=faults,
    )
    tel = read_telemetry(tmp_path)
    (f,) = tel.days[0].faults
    assert f.time_source == "time_string" and f.time_s == pytest.approx(true_t)
    assert f.service == "alpha" and tel.days[0].step_of(f.time_s) == onset
    assert "time string used" in tel.report.of("fault_time")[0].message
    assert "ghost" in tel.report.of("fault_skipped")[0].message


def test_a_service_without_edges_is_a_node_with_a_warning(tmp_path):
    write_day(tmp_path, edges=[])
    tel = read_telemetry(tmp_path)
    assert tel.graph.digraph.number_of_edges() == 0
    assert {n.where.split("/")[-1] for n in tel.report.of("isolated_service")} or len(
        tel.report.of("isolated_service")
    ) == 2


def test_a_dead_success_rate_column_is_not_read_as_all_errors(tmp_path):
    pods = {
        p: [row(p, T0 + 60 * k, success=0.0) for k in range(40)]
        for p in ("alpha-5f6585d649-abcde", "beta-579f59597d-fghij")
    }
    write_day(tmp_path, pods=pods, entry_success=90.0)
    tel = read_telemetry(tmp_path)
    assert len(tel.report.of("missing_column")) == 3  # two dead columns, one entry fallback
    s = tel.days[0].state(5)
    assert s.services["beta"].error_rate == 0.0
    assert s.services["alpha"].error_rate == pytest.approx(0.1)  # the entry point's own rate


def test_unusable_folders_raise_one_clear_error(tmp_path):
    with pytest.raises(TelemetryError, match="not a folder"):
        read_telemetry(tmp_path / "nope")
    with pytest.raises(TelemetryError, match="no day folder"):
        read_telemetry(tmp_path)
    (tmp_path / "d1" / "metric").mkdir(parents=True)
    (tmp_path / "d1" / "metric" / "x-5f6585d649-abcde_metric.csv").write_text(HEADER + "\n")
    with pytest.raises(TelemetryError, match="no metric file with a usable row"):
        read_telemetry(tmp_path)


def test_the_shipped_data_reads_read_only(tmp_path):
    before = {p: p.stat().st_mtime_ns for p in SHIPPED.rglob("*") if p.is_file()}
    tel = read_telemetry(SHIPPED)
    import json

    listed = sum(
        len(v)
        for f in SHIPPED.glob("*/*fault_list.json")
        for v in json.loads(f.read_text()).values()
    )
    assert [d.name for d in tel.days] == sorted(p.name for p in SHIPPED.iterdir() if p.is_dir())
    assert sum(len(d.faults) for d in tel.days) == listed  # every listed fault placed
    assert all(np.isfinite(d.fields).all() for d in tel.days)
    # the corrupt TimeStamp column of one file and the 60 s fault-time mismatch are reported
    assert tel.report.of("clock") and len(tel.report.of("fault_time")) == 1
    assert {p: p.stat().st_mtime_ns for p in SHIPPED.rglob("*") if p.is_file()} == before
    # a copy with one file cut short still reads
    copy = tmp_path / "copy"
    shutil.copytree(SHIPPED, copy)
    f = sorted((copy / tel.days[-1].name / "metric").glob("*_metric.csv"))[0]
    f.write_text(f.read_text()[: len(f.read_text()) // 2])
    tel2 = read_telemetry(copy)
    assert "truncated_row" in tel2.report.counts() or "missing_minutes" in tel2.report.counts()
