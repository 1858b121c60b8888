"""Nobody let in, nothing bypassed.

* Ray: token authentication on and the dashboard bound to 127.0.0.1 by default (RayHost's real
  ``ray.init`` arguments); the check on a started session (auth mode ``token``, the token file,
  a client with a wrong token refused by the GCS) lives in ``test_rel_faults_ray.py`` to share
  its Ray session;
* plugins: nothing is imported from a path written in a config (state source, planner) and a
  plugin refused by the allowlist is never even imported;
* checkpoints: a pickle payload hidden inside an otherwise valid checkpoint is refused, by the
  loader and by a trainer resuming from it, and never executed;
* the safety guard cannot be bypassed by a planner: forged replies (out of range, masked, NaN
  cost), a rogue planner pushing hundreds of actions over every service (protected ones, a
  disallowed type, beyond the rate and blast-radius limits); every decision is audited,
  refused ones included;
* ``aither-wm run`` starts in dry-run unless the config says ``"dry_run": false`` at top level.
"""

import json
import math
import os
import sys
import warnings
from collections import deque

import pytest
import ray
import torch

from aither_wm.bench.reliability import TINY, bench_graph, mesh_state
from aither_wm.control import (
    AuditLog,
    AutohealController,
    ControllerConfig,
    GuardConfig,
    LocalDispatcher,
    PlannerService,
    PlanOutcome,
    PlanReply,
    RecordingExecutor,
    read_audit,
)
from aither_wm.errors import CheckpointError, PluginError
from aither_wm.graph import Action, ActionType
from aither_wm.planning import PlanResult, PlanStats
from aither_wm.runtime import RayHost, RuntimeConfig

G = bench_graph(12)


# --- Ray ----------------------------------------------------------------------------------


def test_rayhost_defaults_keep_the_dashboard_local_and_token_auth_on(monkeypatch):
    cfg = RuntimeConfig()
    assert cfg.include_dashboard is False and cfg.dashboard_host == "127.0.0.1"
    seen = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(kw))
    monkeypatch.setattr(ray, "cluster_resources", dict)
    monkeypatch.setattr(ray, "nodes", list)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    info = RayHost(RuntimeConfig(include_dashboard=True)).start()
    assert seen["dashboard_host"] == "127.0.0.1" and seen["include_dashboard"] is True
    assert "_system_config" not in seen and "RAY_AUTH_MODE" not in os.environ
    assert info["auth_mode"].startswith("token")
    RayHost().start()
    assert seen["include_dashboard"] is False
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.warns(RuntimeWarning, match="leave token authentication on"):
        RayHost().start()


# --- plugins ------------------------------------------------------------------------------


@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """An importable module whose import leaves a marker file (as a payload would)."""
    marker = tmp_path / "imported.marker"
    (tmp_path / "evilmod_rel.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\ndef make(*a, **k):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield marker
    sys.modules.pop("evilmod_rel", None)


def test_config_paths_are_never_imported(evil_module):
    from aither_wm.control import graph_to_dict
    from aither_wm.runtime.loop import LoopSpec, build_loop

    with pytest.raises(PluginError, match="no planner named 'evilmod_rel:make'"):
        PlannerService("evilmod_rel:make", model_config=TINY, graphs=[G])
    spec = LoopSpec(
        graph=graph_to_dict(G),
        trainer=None,
        state_source={"name": "evilmod_rel:make"},
        executor={"name": "evilmod_rel:make"},
    )
    with pytest.raises(PluginError, match="no state_source named 'evilmod_rel:make'"):
        build_loop(spec, LocalDispatcher({}))
    assert not evil_module.exists() and "evilmod_rel" not in sys.modules


def test_a_plugin_refused_by_the_allowlist_is_never_imported(tmp_path, monkeypatch):
    import importlib

    from aither_wm.registry import PluginWarning, Registry

    marker = tmp_path / "imported.marker"
    info = tmp_path / "sneaky_rel-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sneaky-rel\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[aither_wm.plugins]\nsneaky = sneaky_rel:plugin\n")
    (tmp_path / "sneaky_rel.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nplugin = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # left out by the config: not warned
        report = Registry().discover(allow={"aither-sim"})
    assert "allowlist" in report.failed["sneaky"]
    assert not marker.exists() and "sneaky_rel" not in sys.modules
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        Registry().discover()  # no allowlist: it is imported (and refused: not a PluginSpec)
    assert marker.exists()
    sys.modules.pop("sneaky_rel", None)


# --- checkpoints --------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_payload_inside_a_valid_checkpoint_is_refused_everywhere(tmp_path):
    from aither_wm.models.world_model import WorldModel
    from aither_wm.runtime.services import TrainerService, TrainerSettings
    from aither_wm.train import load_checkpoint

    marker = tmp_path / "pwned"
    model = WorldModel(TINY)
    payload = {
        "format": "aither-wm/checkpoint",
        "format_version": 1,
        "version": 3,
        "config": TINY.model_dump(mode="json"),
        "state_dict": model.state_dict(),
        "meta": {"note": _Payload(str(marker))},  # everything else looks right
    }
    path = tmp_path / "trojan.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    settings = TrainerSettings(model=TINY, checkpoint_path=str(path))
    with pytest.raises(CheckpointError, match="refused"):  # a (re)starting trainer refuses it too
        TrainerService(settings, [G])
    assert not marker.exists()


# --- the guard ----------------------------------------------------------------------------


def _reply(first, cost=-1e9, version=1, actions=None):
    return PlanReply(
        planner="rogue", first_action=first, action=Action.noop(),
        actions=tuple(actions or (first,)), cost=cost, noop_cost=0.0, weights_version=version,
        search_ms=0.0, rows_evaluated=0, iterations=0, hit_deadline=False,
    )  # fmt: skip


class ForgingDispatcher:
    """A transport that returns whatever a compromised planner would send."""

    names = ("rogue",)

    def __init__(self, replies):
        self.replies = deque(replies)

    def dispatch(self, request, timeout_s):
        return {"rogue": PlanOutcome("rogue", "ok", reply=self.replies.popleft())}

    def close(self):
        pass


def test_forged_replies_never_reach_the_executor(tmp_path):
    n_idx = 1 + 4 * G.num_services
    scale_in_at_min = 1 + 2 * G.num_services + 0  # scale_in(svc 0) with one replica: masked
    forged = [
        _reply(-1),
        _reply(n_idx),
        _reply(10**12),
        _reply(scale_in_at_min),
        _reply(1, cost=float("nan")),
        _reply(1, cost=float("-inf")),
        _reply(1, actions=[1] * 500),  # hundreds of actions: only the first counts, then guarded
    ]
    ex = RecordingExecutor()
    audit = AuditLog(tmp_path / "audit.jsonl")
    ctl = AutohealController(
        G, ForgingDispatcher(forged), ex, audit=audit,
        config=ControllerConfig(guard=GuardConfig(dry_run=False, allowed_types=("scale_out",))),
    )  # fmt: skip
    one_replica = mesh_state(G).model_copy(
        update={"services": {s: v.model_copy(update={"replicas": 1}) for s, v in mesh_state(G).services.items()}}
    )  # fmt: skip
    decisions = [ctl.decide(one_replica.model_copy(update={"step": i})) for i in range(len(forged))]
    for d in decisions[:6]:
        assert d.chosen == "fallback" and d.outcomes["rogue"].status == "error", d.reason
        assert "invalid plan" in d.outcomes["rogue"].error
    last = decisions[-1]  # a valid index with a tiny cost: chosen, then refused by the guard
    assert last.chosen == "rogue" and not last.verdict.allowed and not last.executed
    assert ex.actions == []
    records = read_audit(tmp_path / "audit.jsonl").records
    assert len(records) == len(forged) and not records[-1]["guard"]["allowed"]


class ScanningPlanner:
    """A rogue planner: it proposes restarting every service in turn, each six times in a row
    (past its cooldown), protected ones included, with a tiny cost (a cost-based pick would
    always take it)."""

    name = "rogue"

    def __init__(self):
        self.i = 0

    def reset(self):
        pass

    def plan(self, dynamics, z0, objective, mask, *, seed, deadline_ms=None):
        first = 1 + (self.i // 6) % G.num_services  # restart(service i // 6)
        self.i += 1
        return PlanResult(
            first, (first,) * 3, -1e9, z0.unsqueeze(0), PlanStats("rogue", 0, 0, 0.0, False)
        )


def test_a_rogue_planner_cannot_exceed_any_guard_limit_over_hundreds_of_steps(tmp_path):
    guard = GuardConfig(
        dry_run=False,
        allowed_types=("restart", "scale_out"),
        protected_services=(G.services[0], G.services[1]),
        cooldown_steps=5,
        window_steps=20,
        max_actions_per_window=4,
        max_service_fraction=0.25,  # 3 of 12 services per window
    )
    ex = RecordingExecutor()
    audit = AuditLog(tmp_path / "audit.jsonl")
    svc = PlannerService(ScanningPlanner, model_config=TINY, graphs=[G], name="rogue")
    ctl = AutohealController(
        G, LocalDispatcher({"rogue": svc}), ex, audit=audit,
        config=ControllerConfig(guard=guard, deadline_ms=5000),
    )  # fmt: skip
    steps = 300
    decisions = [ctl.decide(mesh_state(G, s, broken=G.services[s % 12])) for s in range(steps)]
    executed = [(d.step, d.action.target) for d in decisions if d.executed]
    assert executed and len(executed) < steps // 4
    for step, target in executed:
        assert target not in guard.protected_services
        window = [(s, t) for s, t in executed if step - guard.window_steps < s <= step]
        assert len(window) <= guard.max_actions_per_window
        assert len({t for _, t in window}) <= math.floor(0.25 * 12)
        again = [s for s, t in executed if t == target and step - guard.cooldown_steps < s < step]
        assert not again, (step, target)
    refused = [d for d in decisions if d.chosen == "rogue" and not d.verdict.allowed]
    reasons = " ".join(r for d in refused for r in d.verdict.reasons)
    for rule in ("is protected", "rate:", "blast radius", "cooldown"):
        assert rule in reasons, rule  # every limit was tested by the rogue and held
    assert all(a.type is ActionType.restart for a in ex.actions)
    records = read_audit(tmp_path / "audit.jsonl").records
    assert len(records) == steps  # every decision, refused ones included
    assert sum(not r["guard"]["allowed"] for r in records) == sum(
        not d.verdict.allowed for d in decisions
    )


# --- dry run ------------------------------------------------------------------------------


def test_run_is_dry_run_unless_the_config_says_otherwise(tmp_path, monkeypatch):
    import aither_wm.apps.service as service
    from aither_wm.cli import main

    assert service.ServiceConfig().dry_run is True
    monkeypatch.chdir(tmp_path)  # run_service creates the default runs/ folder here
    real_run_service = service.run_service
    loaded = {}
    monkeypatch.setattr(
        service, "run_service", lambda p, **kw: loaded.update(cfg=service.load_service_config(p))
    )
    cfg_file = tmp_path / "svc.json"
    cfg_file.write_text(json.dumps({"controller": {"guard": {"dry_run": False}}}))
    assert main(["run", "--config", str(cfg_file)]) == 0
    assert loaded["cfg"].dry_run is True  # the nested guard flag is not the switch

    class StopError(Exception):
        pass

    class FakePlugin:
        def __init__(self, *a, **k):
            self.graph, self.planners = G, {}

        def start(self):
            return {}

        def stop(self):
            pass

    def capture(**kw):
        loaded["controller"] = kw["controller"]
        raise StopError

    monkeypatch.setattr(service, "AitherPlugin", FakePlugin)
    monkeypatch.setattr(service, "LoopSpec", capture)
    with pytest.raises(StopError):
        real_run_service(cfg_file)
    assert loaded["controller"].guard.dry_run is True  # top-level dry_run overrides the guard's
    assert loaded["controller"].min_weights_version == 1  # never act on an untrained model
    cfg_file.write_text(json.dumps({"dry_run": False}))
    with pytest.raises(StopError):
        real_run_service(cfg_file)
    assert loaded["controller"].guard.dry_run is False  # only when told
