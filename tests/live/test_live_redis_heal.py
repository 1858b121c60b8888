"""End to end on real processes: kill Redis, the controller restores it, the SLO comes back."""

from __future__ import annotations

import os
import signal
import time

import pytest

from aither_wm.control.audit import read_audit
from aither_wm.graph import load_graph
from aither_wm.live.errors import LiveError, PrometheusError
from aither_wm.live.heal import HealConfig, live_components, run_heal
from aither_wm.live.mesh import LiveMesh, require_binaries
from aither_wm.wait import wait_until

GRAPH = "graphs/online-boutique.json"


def test_live_binaries_installed() -> None:
    """CI installs them; a missing one is a failure with the apt line, never a silent skip."""
    require_binaries()


@pytest.mark.timeout(150)
def test_live_redis_kill_is_healed_through_controller(tmp_path) -> None:
    graph = load_graph(GRAPH)
    cfg = HealConfig(fault="redis_kill", policy="reactive", duration_s=40.0, hold_s=4.0)
    report = run_heal(graph, cfg, run_dir=tmp_path, log=lambda m: None)
    assert report["target"] == "redis-cart"
    assert report["recovered"], report["timeline"]
    assert report["time_to_mitigate_s"] is not None and report["time_to_mitigate_s"] < 30.0
    assert report["observation_delay_s"] is not None and report["observation_delay_s"] < 10.0
    executed = [a["action"] for a in report["actions"] if a["executed"]]
    assert "restart(redis-cart)" in executed
    final = report["timeline"][-1]
    assert final["slo_ok"] and final["client_error_rate"] <= cfg.slo_error_rate
    # every action went through the guard and is in the audit log
    records = read_audit(tmp_path / "audit.jsonl").records
    restarts = [r for r in records if r["action"] == {"type": "restart", "target": "redis-cart"}]
    assert restarts and restarts[0]["guard"]["allowed"] and restarts[0]["executed"]
    assert not any(r["dry_run"] for r in records)
    assert report["stray_processes"] == []


@pytest.mark.timeout(90)
def test_live_source_marks_stale_and_errors_never_zero(tmp_path) -> None:
    """Prometheus down is an error; a service without series is stale, not zeros; down() is clean."""
    graph = load_graph(GRAPH)
    reg = live_components()
    mesh = LiveMesh(graph, tmp_path)
    try:
        mesh.up()
        source = reg.create("state_source", "live", graph, prometheus_url=mesh.prometheus_url)

        def fresh():
            state = source.observe()
            return state if not source.stale else None

        state = wait_until(fresh, timeout_s=40, interval_s=1.0, ignore=(PrometheusError,))
        assert state is not None and not source.stale
        # a scrape target removed from discovery: its series disappear -> stale, carried forward
        mesh.services["adservice"]["admin_ports_saved"] = mesh.services["adservice"]["admin_ports"]
        mesh.services["adservice"]["admin_ports"] = []
        mesh._write_targets()
        observed = []

        def adservice_stale():
            time.sleep(1.0)
            observed.append(source.observe())
            return "adservice" in source.stale

        assert wait_until(adservice_stale, timeout_s=20, interval_s=0.0)
        assert observed[-1].services["adservice"] == source._last["adservice"]
        with pytest.raises(PrometheusError, match="adservice"):
            reg.create(
                "state_source",
                "live",
                graph,
                prometheus_url=mesh.prometheus_url,
                on_missing="error",
            ).observe()
        # Prometheus itself down: a clear error naming the server
        os.killpg(mesh.procs["prometheus"], signal.SIGKILL)
        with pytest.raises(PrometheusError, match=r"Prometheus at http://127\.0\.0\.1"):
            source.observe()
        pids = list(mesh.pids_ever)
    finally:
        mesh.down()
    assert pids and mesh.stray_pids() == []


def test_live_unknown_fault_is_refused(tmp_path) -> None:
    with pytest.raises(LiveError, match="unknown fault"):
        run_heal(load_graph(GRAPH), HealConfig(fault="nope"), run_dir=tmp_path)
