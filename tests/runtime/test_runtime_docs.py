"""The service config example in docs/runtime.md is a valid config (docs that cannot rot)."""

import re
from pathlib import Path

from aither_wm.runtime.plugin import load_service_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime.md"


def test_documented_service_config_is_valid(tmp_path):
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.S)
    example = next(b for b in blocks if "[state_source]" in b)
    path = tmp_path / "service.toml"
    path.write_text(example)
    cfg = load_service_config(path)
    assert cfg.dry_run is True and cfg.retrain_every_s == 1800.0
    assert cfg.state_source.name == "sim" and set(cfg.plugin.planners) == {"cem", "mcts"}
    assert cfg.controller.guard.max_service_fraction == 0.25
