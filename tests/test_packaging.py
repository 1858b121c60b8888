"""Packaged data and small edges: shipped graphs by name from any directory (importlib.resources),
``import aither_wm`` registers the gymnasium env, TOML on Python 3.10 (tomli) or a clear message,
the README's training budget is the code's."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from aither_wm.config import TrainConfig
from aither_wm.errors import ConfigError, GraphError
from aither_wm.graph import load_graph
from aither_wm.graph.shipped import resolve_graph, shipped_graph_names
from aither_wm.runtime import load_service_config

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [
    "deathstarbench-hotelreservation",
    "deathstarbench-socialnetwork",
    "online-boutique",
    "sock-shop",
]


def test_shipped_graphs_are_package_data_found_by_name_from_any_directory(tmp_path, monkeypatch):
    assert shipped_graph_names() == SHIPPED
    monkeypatch.chdir(tmp_path)
    assert load_graph("online-boutique").num_services == 11
    assert load_graph("sock-shop.json").name == "sock-shop"
    # the repository's relative paths, used from another directory, name the shipped graph
    assert load_graph("graphs/deathstarbench-socialnetwork.json").num_services == 26
    own = tmp_path / "online-boutique"  # a real file of that name wins over the shipped one
    own.write_text('{"name": "mine", "services": [{"name": "a", "kind": "service"}], "edges": []}')
    assert load_graph("online-boutique").name == "mine"
    with pytest.raises(GraphError, match="did you mean 'sock-shop'"):
        resolve_graph("sock-shp")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["package-data"]["aither_wm"] == ["graphs/*.json"]
    assert (ROOT / "graphs").resolve() == (ROOT / "aither_wm" / "graphs").resolve()


def test_import_aither_wm_registers_the_gymnasium_env(tmp_path):
    code = (
        "import gymnasium, aither_wm\n"
        "from gymnasium.utils.env_checker import check_env\n"
        "env = gymnasium.make('aither_wm/Mesh-v0', graph='online-boutique')\n"
        "check_env(env.unwrapped)\n"
        "print(env.reset(seed=0)[0].shape)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-1500:]
    assert run.stdout.strip() == "(11, 24)"


def test_toml_config_uses_tomli_on_python_310_or_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "service.toml"
    path.write_text('interval_s = 3.0\n[state_source]\nname = "sim"\n')
    monkeypatch.setitem(sys.modules, "tomllib", None)  # as on Python 3.10
    monkeypatch.setitem(sys.modules, "tomli", tomllib)  # the backport has the same API
    assert load_service_config(path).interval_s == 3.0
    monkeypatch.setitem(sys.modules, "tomli", None)
    with pytest.raises(ConfigError, match=r"service.toml: reading TOML needs Python 3.11\+ or"):
        load_service_config(path)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "tomli>=2.0; python_version < '3.11'" in deps


def test_readme_states_the_code_s_training_budget_and_what_make_test_installs():
    text = (ROOT / "README.md").read_text()
    budgets = re.findall(
        r"The CLI's default budget\s+\(`aither-wm train`\) is (\d[\d,]*) steps", text
    )
    assert budgets == [str(TrainConfig().steps)]
    assert "sudo make system-deps" in text and "apt-get install redis-server prometheus" in text
