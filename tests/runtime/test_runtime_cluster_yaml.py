"""deploy/ray-cluster.yaml passes Ray's own cluster-launcher validation (offline)."""

from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

YAML = Path(__file__).resolve().parents[2] / "deploy" / "ray-cluster.yaml"


def load():
    return yaml.safe_load(YAML.read_text())


def test_cluster_yaml_passes_ray_validation():
    cfg = prepare_config(load())
    validate_config(cfg)
    head = cfg["available_node_types"][cfg["head_node_type"]]
    gpu = [
        t for t in cfg["available_node_types"].values() if t.get("resources", {}).get("GPU", 0) >= 1
    ]
    assert "GPU" not in head["resources"] and gpu  # a CPU head and GPU workers
    setup = " ".join(cfg["head_setup_commands"] + cfg["worker_setup_commands"])
    assert "~/aither-wm" in setup  # the package is installed on every node
    start = " ".join(cfg["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in start and "RAY_AUTH_MODE=token" in start


def test_validation_is_real():
    bad = load()
    bad["max_wokers"] = 3  # a typo in a top-level key
    with pytest.raises(Exception, match="max_wokers"):
        validate_config(prepare_config(bad))
