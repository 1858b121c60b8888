"""The plugin registry: lookup by kind and name, lazy entries, entry-point discovery (a real
``*.dist-info`` on sys.path, read by the real importlib.metadata), API-version check, allowlist."""

import importlib
import json
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from aither_wm import API_VERSION, __version__
from aither_wm.errors import PluginError
from aither_wm.registry import (
    KINDS,
    ComponentSpec,
    PluginSpec,
    PluginWarning,
    Registry,
    build_registry,
    default_registry,
)

ROOT = Path(__file__).resolve().parents[1]


def install_dist(
    site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """A minimal installed distribution: METADATA + entry_points.txt in ``<dist>-1.0.dist-info``."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[aither_wm.plugins]\n{lines}\n")
    for name, src in modules.items():
        (site / f"{name}.py").write_text(textwrap.dedent(src))


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    importlib.invalidate_caches()
    for mod in [m for m in sys.modules if m.startswith(("goodplug", "brokenplug", "futureplug"))]:
        del sys.modules[mod]


GOOD = """
    from aither_wm import API_VERSION
    from aither_wm.registry import ComponentSpec, PluginSpec

    class AlwaysRestart:
        name = "always-restart"

    plugin = PluginSpec(name="goodplug", version="1.0", api_version=API_VERSION, components=(
        ComponentSpec("policy", "always-restart", "goodplug_impl:AlwaysRestart", "test policy"),))
"""
GOOD_IMPL = """
    class AlwaysRestart:
        name = "always-restart"
"""


def test_register_lookup_and_did_you_mean():
    reg = Registry()
    reg.register("planner", "cem-fast", "aither_wm.control.planners:make_cem")
    assert reg.get("planner", "cem-fast").source == "runtime"
    with pytest.raises(PluginError, match="did you mean 'cem-fast'"):
        reg.get("planner", "cem_fast")
    with pytest.raises(PluginError, match="did you mean 'planner'"):
        reg.get("planer", "cem")
    with pytest.raises(PluginError, match="already registered"):
        reg.register("planner", "cem-fast", object())
    reg.register("planner", "cem-fast", object(), replace=True)
    with pytest.raises(PluginError, match="module:attr"):
        reg.register("policy", "x", "no_colon_here")


def test_lazy_entries_import_on_first_use_only(site):
    (site / "lazy_probe_mod.py").write_text("LOADED = True\nclass Thing:\n    pass\n")
    reg = Registry()
    entry = reg.register("executor", "probe", "lazy_probe_mod:Thing")
    assert "lazy_probe_mod" not in sys.modules
    assert reg.load("executor", "probe").__name__ == "Thing"
    assert "lazy_probe_mod" in sys.modules and entry.describe()["target"] == "lazy_probe_mod:Thing"
    reg.register("executor", "missing", "no_such_module_xyz:Thing")
    with pytest.raises(PluginError, match="cannot import 'no_such_module_xyz'"):
        reg.load("executor", "missing")
    del sys.modules["lazy_probe_mod"]


def test_builtins_are_registered_for_every_kind():
    reg = build_registry(discover=False)
    assert {"cem", "mcts", "beam"} <= set(reg.names("planner"))
    assert {"noop"} <= set(reg.names("policy")) and {"recording"} <= set(reg.names("executor"))
    assert set(KINDS) >= {e.kind for e in reg.entries()}
    with pytest.raises(PluginError, match="unknown component kind 'regularizer'"):
        reg.names("regularizer")  # the training loss picks its regulariser itself
    planner = reg.create("planner", "cem", {"num_samples": 32, "num_elites": 4})
    assert planner.config.num_samples == 32
    rows = default_registry().describe()
    assert all({"kind", "name", "source", "target"} <= set(r) for r in rows)


def test_entry_point_plugins_are_discovered_and_broken_ones_reported(site):
    install_dist(
        site,
        "goodplug",
        {"goodplug": "goodplug:plugin"},
        {"goodplug": GOOD, "goodplug_impl": GOOD_IMPL},
    )
    install_dist(
        site,
        "brokenplug",
        {"brokenplug": "brokenplug:plugin"},
        {"brokenplug": "raise ImportError('needs a library that is not installed')"},
    )
    install_dist(
        site,
        "futureplug",
        {"futureplug": "futureplug:plugin"},
        {
            "futureplug": f"""
        from aither_wm.registry import ComponentSpec, PluginSpec
        plugin = PluginSpec(name="futureplug", version="9.0", api_version={API_VERSION + 1},
                            components=(ComponentSpec("policy", "future", "x:y"),))
    """
        },
    )
    importlib.invalidate_caches()
    reg = Registry()
    with pytest.warns(PluginWarning) as caught:
        report = reg.discover()
    assert report.loaded.get("goodplug") == "1.0"
    assert "needs a library that is not installed" in report.failed["brokenplug"]
    assert "API version" in report.failed["futureplug"]
    assert any("brokenplug" in str(w.message) for w in caught)
    assert reg.load("policy", "always-restart").name == "always-restart"
    assert reg.get("policy", "always-restart").source == "goodplug"
    assert "future" not in reg.names("policy")


def test_allowlist_refuses_other_plugins_and_config_paths(site):
    install_dist(
        site,
        "goodplug",
        {"goodplug": "goodplug:plugin"},
        {"goodplug": GOOD, "goodplug_impl": GOOD_IMPL},
    )
    importlib.invalidate_caches()
    reg = Registry()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)  # the allowlist's choice is not warned
        report = reg.discover(allow={"someone-else"})
    assert "allowlist" in report.failed["goodplug"] and "always-restart" not in reg.names("policy")
    # A "module:attr" in a config file is refused unless its module is allowlisted.
    with pytest.raises(PluginError, match="refusing to import"):
        reg.resolve("policy", "goodplug_impl:AlwaysRestart")
    assert (
        reg.resolve("policy", "goodplug_impl:AlwaysRestart", allowed_modules=["goodplug_impl"]).name
        == "always-restart"
    )


def test_first_party_plugins_load_through_entry_points(site, monkeypatch):
    from aither_wm.graph import Action, ActionType, load_graph
    from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS

    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    install_dist(site, "aither_wm_first_party", FIRST_PARTY_ENTRY_POINTS, {})
    importlib.invalidate_caches()
    reg = build_registry(allow=set(FIRST_PARTY_ENTRY_POINTS))
    assert reg.get("state_source", "sim").source == "aither-sim"
    assert reg.get("policy", "reactive").source == "aither-reactive"
    g = load_graph(ROOT / "graphs/online-boutique.json")
    source = reg.create(
        "state_source",
        "sim",
        g,
        seed=3,
        faults=[{"at": 1, "fault": "pod_kill", "target": "adservice"}],
    )
    executor = reg.create("executor", "sim", source)
    s0 = source.observe()
    executor.execute(Action(type=ActionType.scale_out, target="frontend"))
    s1 = source.observe()
    assert (
        s1.step == s0.step + 1
        and s1.services["frontend"].replicas >= s0.services["frontend"].replicas
    )
    source.observe()
    assert source.injected and source.injected[0][1] == "pod_kill"


def test_manifest_matches_the_code(monkeypatch):
    from aither_wm.runtime.manifest import build_manifest

    monkeypatch.syspath_prepend(str(ROOT / "plugins"))
    on_disk = json.loads((ROOT / "plugins" / "manifest.json").read_text())
    assert on_disk["api_version"] == API_VERSION and on_disk["version"] == __version__
    assert on_disk == json.loads(json.dumps(build_manifest())), (
        "plugins/manifest.json is stale: python -m aither_wm.runtime.manifest plugins/manifest.json"
    )


def test_plugin_spec_refuses_bad_kinds():
    reg = Registry()
    with pytest.raises(PluginError, match="unknown component kind"):
        reg.register_plugin(
            PluginSpec("p", "1", API_VERSION, (ComponentSpec("widget", "w", "a:b"),))
        )
    assert reg.names("policy") == []
