"""Autoheal control: the controller, its safety guard, audit log, executors and rule-based policies.

Plain Python (no Ray): ``aither_wm.runtime`` wraps these classes in actors.
"""

from aither_wm.control.audit import AUDIT_SCHEMA_VERSION, AuditLog, AuditReport, read_audit
from aither_wm.control.controller import AutohealController, ControlDecision, ControllerConfig
from aither_wm.control.executor import Executor, RecordingExecutor
from aither_wm.control.guard import GuardConfig, GuardVerdict, SafetyGuard
from aither_wm.control.planners import (
    Dispatcher,
    LocalDispatcher,
    PlannerService,
    PlanOutcome,
    PlanReply,
    PlanRequest,
    graph_to_dict,
    make_beam,
    make_cem,
    make_mcts,
)
from aither_wm.control.policies import NoopPolicy, Policy, ReactiveConfig, ReactivePolicy

__all__ = [
    "AUDIT_SCHEMA_VERSION",
    "AuditLog",
    "AuditReport",
    "AutohealController",
    "ControlDecision",
    "ControllerConfig",
    "Dispatcher",
    "Executor",
    "GuardConfig",
    "GuardVerdict",
    "LocalDispatcher",
    "NoopPolicy",
    "PlanOutcome",
    "PlanReply",
    "PlanRequest",
    "PlannerService",
    "Policy",
    "ReactiveConfig",
    "ReactivePolicy",
    "RecordingExecutor",
    "SafetyGuard",
    "graph_to_dict",
    "make_beam",
    "make_cem",
    "make_mcts",
    "read_audit",
]
