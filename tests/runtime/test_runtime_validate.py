"""Validate before starting: every name, path and number of a service config is checked before
Ray starts (one ConfigError line, "did you mean"), ``aither-wm run`` exits 2 with one line and no
traceback, and a service that cannot make progress stops with the reason."""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray
from runtime_helpers import CEM_SMALL, RT, TINY

from aither_wm.apps.service import run_service
from aither_wm.errors import AitherError, ConfigError
from aither_wm.runtime import PlannerSpec, PluginConfig, ServiceConfig, validate_service_config
from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS

ROOT = Path(__file__).resolve().parents[2]

BROKEN_SOURCE = '''
from aither_wm import API_VERSION
from aither_wm.registry import ComponentSpec, PluginSpec


class BrokenSource:
    """A state source that fails the same way on every observation."""

    def __init__(self, graph):
        self.graph = graph

    def observe(self):
        raise RuntimeError("metrics backend unreachable: connection refused")


plugin = PluginSpec(name="aither-broken", version="0", api_version=API_VERSION, components=(
    ComponentSpec("state_source", "broken", "aither_broken_test:BrokenSource", "fails"),
))
'''


def _site() -> str:
    """A site folder with the first-party entry points and a broken test plugin (a real
    dist-info, as pip writes it), for the driver and the Ray workers alike."""
    site = Path(tempfile.mkdtemp(prefix="aither_site_validate_"))
    (site / "aither_broken_test.py").write_text(BROKEN_SOURCE)
    info = site / "aither_validate_test-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: aither-validate-test\nVersion: 0.1.0\n"
    )
    eps = {**FIRST_PARTY_ENTRY_POINTS, "aither-broken": "aither_broken_test:plugin"}
    lines = "\n".join(f"{k} = {v}" for k, v in eps.items())
    (info / "entry_points.txt").write_text(f"[aither_wm.plugins]\n{lines}\n")
    return str(site)


SITE = _site()
RAY_RUNTIME_ENV = {"env_vars": {"PYTHONPATH": f"{SITE}:{ROOT / 'plugins'}"}}


def _config(tmp_path, **kw) -> dict:
    plugin = {
        "graph": "online-boutique",
        "checkpoint": str(tmp_path / "wm.pt"),
        "trainer_transitions_log": str(tmp_path / "trainer.jsonl"),
    }
    plugin.update(kw.pop("plugin", {}))
    return {
        "plugin": plugin,
        "audit_log": str(tmp_path / "audit.jsonl"),
        "transitions_log": str(tmp_path / "transitions.jsonl"),
        **kw,
    }


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"plugin": {"planners": {"mcts": {"kind": "mtcs"}}}}, "plugin.planners.mcts.kind: unknown name 'mtcs' (known: beam, cem, mcts); did you mean 'mcts'?"),
        ({"plugin": {"planners": {"cem": {"config": {"num_sampels": 9}}}}}, "plugin.planners.cem.config: num_sampels"),
        ({"plugin": {"graph": "online-botique"}}, "plugin.graph: online-botique: cannot read graph file"),
        ({"plugin": {"graph": "nowhere/g.json"}}, "plugin.graph: nowhere/g.json: cannot read graph file"),
        ({"plugin": {"cost_per_type": {"restrat": 1.0}}}, "plugin.cost_per_type: unknown name 'restrat'"),
        ({"state_source": {"name": "simm"}}, "state_source.name: unknown name 'simm'"),
        ({"state_source": {"name": "sim", "options": {"sed": 1}}}, "state_source.options: 'sim' takes no option 'sed'"),
        ({"executor": {"name": "recordin"}}, "executor.name: unknown name 'recordin'"),
        ({"plugin_allow": ["aither-smi"]}, "plugin_allow: unknown name 'aither-smi'"),
        ({"controller": {"guard": {"protected_services": ["frontendd"]}}}, "did you mean 'frontend'?"),
        ({"controller": {"pick": "prefer_mcts"}, "plugin": {"planners": {"cem": {"kind": "cem"}}}}, "controller.pick: 'prefer_mcts' needs a planner named 'mcts'"),
        ({"plugin": {"runtime": {"num_cpus": 2, "planner_num_cpus": 1, "trainer_num_cpus": 1}}}, "cannot schedule the plugin's actors"),
    ],
)  # fmt: skip
def test_every_name_path_and_number_is_checked_before_ray(tmp_path, change, needle, monkeypatch):
    monkeypatch.syspath_prepend(SITE)
    if ray.is_initialized():
        ray.shutdown()
    cfg = ServiceConfig.model_validate(_config(tmp_path, **change))
    with pytest.raises(ConfigError) as e:
        validate_service_config(cfg)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert not ray.is_initialized()


def test_a_file_in_the_way_of_a_log_is_named(tmp_path):
    (tmp_path / "blocker").write_text("")
    cfg = ServiceConfig.model_validate(
        _config(tmp_path, audit_log=str(tmp_path / "blocker/a.jsonl"))
    )
    with pytest.raises(ConfigError, match=r"audit_log: cannot create the folder of .* is a file"):
        validate_service_config(cfg)


def test_a_bad_checkpoint_is_named_before_start(tmp_path):
    (tmp_path / "wm.pt").write_text('{"json": true}')
    cfg = ServiceConfig.model_validate(_config(tmp_path))
    with pytest.raises(ConfigError, match=r"plugin.checkpoint: .*wm.pt: not a readable checkpoint"):
        validate_service_config(cfg)


def test_run_with_a_typo_exits_2_with_one_line_and_no_traceback(tmp_path):
    cfg = tmp_path / "service.toml"
    cfg.write_text('[plugin.planners.cem]\nkind = "cem"\n\n[plugin.planners.mcts]\nkind = "mtcs"\n')
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "aither_wm.cli", "run", "--config", str(cfg)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = time.perf_counter() - t0
    print(f"\n`aither-wm run` with a typo: exit {run.returncode} after {seconds:.1f} s")
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.strip() == (
        "aither-wm run: error: plugin.planners.mcts.kind: unknown name 'mtcs' "
        "(known: beam, cem, mcts); did you mean 'mcts'?"
    )
    assert seconds < 30  # about 3 s on an idle 2-core machine: no Ray was started
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_a_service_that_cannot_make_progress_stops_with_the_reason(tmp_path, ray_session):
    plugin = PluginConfig(
        graph="online-boutique",
        runtime=RT.model_copy(update={"namespace": "aither_wm_validate_test"}),
        model=TINY,
        checkpoint=None,
        trainer_transitions_log=None,
        planners={"cem": PlannerSpec(kind="cem", config=CEM_SMALL)},
        poll_interval_s=None,
    )
    base = {
        "plugin": plugin.model_dump(mode="json"),
        "interval_s": 0.0,
        "audit_log": str(tmp_path / "audit.jsonl"),
        "transitions_log": str(tmp_path / "t.jsonl"),
        "plugin_allow": [*FIRST_PARTY_ENTRY_POINTS, "aither-broken"],
    }
    sys.path.insert(0, SITE)  # the driver validates against the same plugins as the workers
    try:
        lines: list[str] = []
        cfg = ServiceConfig.model_validate({**base, "state_source": {"name": "broken"}})
        t0 = time.perf_counter()
        with pytest.raises(AitherError) as e:
            run_service(config=cfg, say=lines.append)
        msg = str(e.value)
        assert msg.startswith("service stopped: the same error on 3 ticks in a row")
        assert "metrics backend unreachable: connection refused" in msg and "\n" not in msg
        assert time.perf_counter() - t0 < 120
        assert lines and lines[0].startswith("aither-wm run: online-boutique (11 services)")
        bad_option = json.loads(json.dumps(base))
        bad_option["state_source"] = {
            "name": "sim",
            "options": {"sim": {"no_such_setting": 1}},  # fails in the controller's constructor
        }
        with pytest.raises(
            AitherError, match=r"the controller actor cannot start: .*no_such_setting"
        ):
            run_service(config=ServiceConfig.model_validate(bad_option), say=lines.append)
    finally:
        sys.path.remove(SITE)
