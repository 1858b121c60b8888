"""The files a live mesh keeps in its run folder for the processes it starts: ``mesh.json``
(what each worker reads: ports, edges, timeouts), ``targets.json`` (Prometheus' file-based
discovery, so a scaled-out worker is scraped without a restart) and ``prometheus.yml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aither_wm.graph.schema import ServiceGraph

__all__ = ["write_mesh_file", "write_prometheus_config", "write_targets"]


def write_mesh_file(
    path: Path, graph: ServiceGraph, services: dict[str, dict[str, Any]], call_timeout_s: float
) -> None:
    """``mesh.json``: the graph's entry points and edges (hard or soft), and each service's ports."""
    edges: dict[str, list[dict[str, Any]]] = {}
    for u, v, d in graph.digraph.edges(data=True):
        edges.setdefault(u, []).append({"to": v, "hard": d.get("dependency", "hard") != "soft"})
    mesh = {
        "graph": graph.name,
        "entrypoints": list(graph.entrypoints),
        "call_timeout_s": call_timeout_s,
        "services": {
            n: {"kind": s["kind"], "port": s["port"], "redis_port": s["redis_port"]}
            for n, s in services.items()
        },
        "edges": edges,
    }
    path.write_text(json.dumps(mesh, indent=1), encoding="utf-8")


def write_targets(run_dir: Path, services: dict[str, dict[str, Any]]) -> None:
    """``targets.json``: one scrape target per worker's admin port, labelled with its service."""
    groups = [
        {"targets": [f"127.0.0.1:{p}"], "labels": {"service": name, "worker": str(i)}}
        for name, spec in services.items()
        for i, p in enumerate(spec["admin_ports"])
    ]
    tmp = run_dir / "targets.json.tmp"
    tmp.write_text(json.dumps(groups), encoding="utf-8")
    tmp.replace(run_dir / "targets.json")  # atomic: Prometheus never reads half a file


def write_prometheus_config(run_dir: Path, scrape_interval_s: float, loadgen_port: int) -> None:
    """``prometheus.yml``: the workers through ``targets.json``, the load generator (the client's
    view, the SLO) as ``service="__client__"``."""
    ms = round(scrape_interval_s * 1000)
    (run_dir / "prometheus.yml").write_text(
        f"""global:
  scrape_interval: {ms}ms
  scrape_timeout: {round(0.9 * ms)}ms
  evaluation_interval: {ms}ms
scrape_configs:
  - job_name: aither-live
    file_sd_configs:
      - files: ["{run_dir / "targets.json"}"]
        refresh_interval: 1s
  - job_name: aither-client
    static_configs:
      - targets: ["127.0.0.1:{loadgen_port}"]
        labels: {{service: "__client__"}}
""",
        encoding="utf-8",
    )
