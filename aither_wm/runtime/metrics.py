"""Operator metrics through ``ray.util.metrics``: what Ray's Prometheus endpoint shows.

Ray serves application metrics on every node's metrics export port (``/metrics``, Prometheus text
format, names prefixed ``ray_``), where an operator's Prometheus already scrapes Ray;
``deploy/grafana-aither.json`` is a dashboard over them. Recorded where the work happens (the
controller actor, or the driver for ``AitherPlugin.decide``; the trainer actor):

=================================  =========  ===============================================
metric (as exported)               type       tags
=================================  =========  ===============================================
ray_aither_decisions_total         counter    ``planner`` (who decided: cem, mcts, fallback),
                                              ``outcome`` (executed, dry_run, refused, noop,
                                              error)
ray_aither_plan_outcomes_total     counter    ``planner``, ``status`` (ok, error, timeout, busy)
ray_aither_plan_latency_ms         histogram  ``planner``: round trip of each answered plan
ray_aither_decision_latency_ms     histogram  the whole decision, dispatch to audit
ray_aither_guard_refusals_total    counter    ``reason`` (type, protected, cooldown, rate,
                                              blast_radius, other)
ray_aither_trainer_runs_total      counter    ``verdict`` (published, rejected: the regression
                                              gate)
ray_aither_trainer_version         gauge      the published model version
ray_aither_trainer_loss            gauge      the last training run's final loss
=================================  =========  ===============================================

The metric objects are created on first use in each process (never at import time).
:func:`decision_outcome` and :func:`refusal_reason` are the pure rules behind the tags.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

__all__ = [
    "METRIC_NAMES",
    "Metrics",
    "decision_outcome",
    "metrics",
    "record_decision",
    "record_training",
    "refusal_reason",
]

log = logging.getLogger(__name__)

#: Every metric this module exports, as Prometheus shows it (counters get ``_total``).
METRIC_NAMES: tuple[str, ...] = (
    "ray_aither_decisions_total",
    "ray_aither_plan_outcomes_total",
    "ray_aither_plan_latency_ms",
    "ray_aither_decision_latency_ms",
    "ray_aither_guard_refusals_total",
    "ray_aither_trainer_runs_total",
    "ray_aither_trainer_version",
    "ray_aither_trainer_loss",
)

#: Bucket bounds of the latency histograms, milliseconds.
LATENCY_BUCKETS_MS = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]

_REASONS = (
    ("type ", "type"),
    ("service ", "protected"),
    ("cooldown", "cooldown"),
    ("rate", "rate"),
    ("blast radius", "blast_radius"),
)


def refusal_reason(text: str) -> str:
    """The tag of one guard refusal reason: ``"cooldown: 'x' was acted on ..."`` -> cooldown."""
    for prefix, tag in _REASONS:
        if text.startswith(prefix):
            return tag
    return "other"


def decision_outcome(record: Mapping[str, Any]) -> str:
    """What became of a decision (an audit record): error (the executor failed), refused (by
    the guard), noop (nothing to do), executed, or dry_run (admitted, not executed)."""
    if record.get("error"):
        return "error"
    if not record["guard"]["allowed"]:
        return "refused"
    if record["action"]["type"] == "noop":
        return "noop"
    return "executed" if record["executed"] else "dry_run"


class Metrics:
    """The metric objects of one process (see the module docstring)."""

    def __init__(self) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        self.decisions = Counter(
            "aither_decisions",
            description="Decisions of the autoheal controller, by who decided and what became of it.",
            tag_keys=("planner", "outcome"),
        )
        self.plan_outcomes = Counter(
            "aither_plan_outcomes",
            description="Planner answers per decision, by planner and status.",
            tag_keys=("planner", "status"),
        )
        self.plan_latency = Histogram(
            "aither_plan_latency_ms",
            description="Round trip of each answered plan, milliseconds.",
            boundaries=LATENCY_BUCKETS_MS,
            tag_keys=("planner",),
        )
        self.decision_latency = Histogram(
            "aither_decision_latency_ms",
            description="Whole decision (dispatch to audit), milliseconds.",
            boundaries=LATENCY_BUCKETS_MS,
        )
        self.guard_refusals = Counter(
            "aither_guard_refusals",
            description="Actions the safety guard refused, by reason.",
            tag_keys=("reason",),
        )
        self.trainer_runs = Counter(
            "aither_trainer_runs",
            description="Training runs, by the regression gate's verdict.",
            tag_keys=("verdict",),
        )
        self.trainer_version = Gauge(
            "aither_trainer_version", description="Published world-model version."
        )
        self.trainer_loss = Gauge(
            "aither_trainer_loss", description="Final loss of the last training run."
        )

    def record_decision(self, record: Mapping[str, Any]) -> None:
        """Count one decision (its audit record) and its planners' answers."""
        self.decisions.inc(
            1.0, tags={"planner": str(record["chosen"]), "outcome": decision_outcome(record)}
        )
        for name, plan in record.get("plans", {}).items():
            self.plan_outcomes.inc(1.0, tags={"planner": name, "status": str(plan["status"])})
            ms = plan.get("round_trip_ms")
            if plan["status"] == "ok" and isinstance(ms, int | float) and math.isfinite(ms):
                self.plan_latency.observe(float(ms), tags={"planner": name})
        ms = record.get("latency_ms")
        if isinstance(ms, int | float) and math.isfinite(ms):
            self.decision_latency.observe(float(ms))
        if not record["guard"]["allowed"]:
            for reason in record["guard"]["reasons"] or ["other"]:
                self.guard_refusals.inc(1.0, tags={"reason": refusal_reason(reason)})

    def record_training(self, summary: Mapping[str, Any]) -> None:
        """Record one training run's summary (version, loss, the gate's verdict)."""
        self.trainer_runs.inc(
            1.0, tags={"verdict": "published" if summary.get("published") else "rejected"}
        )
        self.trainer_version.set(float(summary.get("version", 0)))
        loss = (summary.get("final") or {}).get("total")
        if isinstance(loss, int | float) and math.isfinite(loss):
            self.trainer_loss.set(float(loss))


_metrics: Metrics | None = None
_lock = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics, created on first use (Ray must be initialised)."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


def record_decision(record: Mapping[str, Any]) -> None:
    """:meth:`Metrics.record_decision` on this process's metrics; a metrics failure is logged,
    never raised (a decision must not fail because of its bookkeeping)."""
    try:
        metrics().record_decision(record)
    except Exception as e:  # pragma: no cover - defensive
        log.warning("metrics not recorded: %s", e)


def record_training(summary: Mapping[str, Any]) -> None:
    """:meth:`Metrics.record_training` on this process's metrics (failures logged, not raised)."""
    try:
        metrics().record_training(summary)
    except Exception as e:  # pragma: no cover - defensive
        log.warning("metrics not recorded: %s", e)
