import json
import math
from pathlib import Path

import pytest

from aither_wm.errors import GraphError
from aither_wm.graph import graph_from_dict, load_graph
from aither_wm.graph.generate import generate_graph

GRAPHS = Path(__file__).resolve().parents[2] / "graphs"


@pytest.mark.parametrize(
    ("file", "services", "edges", "entry"),
    [
        ("online-boutique.json", 11, 15, "frontend"),
        ("sock-shop.json", 14, 15, "front-end"),
        ("deathstarbench-socialnetwork.json", 26, 33, "nginx-thrift"),
        ("deathstarbench-hotelreservation.json", 23, 31, "frontend"),
    ],
)
def test_shipped_graphs_load_with_exact_counts(file, services, edges, entry):
    g = load_graph(GRAPHS / file)
    assert g.num_services == services
    assert g.digraph.number_of_edges() == edges
    assert entry in g.entrypoints
    assert json.loads((GRAPHS / file).read_text())["source"]  # provenance kept


def test_online_boutique_structure_is_exact():
    g = load_graph(GRAPHS / "online-boutique.json")
    assert g.services[0] == "frontend"
    assert g.callers("redis-cart") == ["cartservice"]
    assert g.digraph.edges["frontend", "adservice"]["dependency"] == "soft"
    d = g.depths()
    assert d["frontend"] == 0 and d["cartservice"] == 1 and d["redis-cart"] == 2


def _graph(**over):
    base = {
        "name": "tiny",
        "services": [{"name": "a", "kind": "frontend"}, {"name": "b", "kind": "service"}],
        "edges": [{"from": "a", "to": "b"}],
    }
    base.update(over)
    return base


def test_cycles_and_unknown_optional_fields_are_accepted():
    g = graph_from_dict(
        _graph(edges=[{"from": "a", "to": "b", "note": "x"}, {"from": "b", "to": "a"}], extra=1)
    )
    assert g.digraph.has_edge("b", "a")
    assert g.entrypoints == ("a",)  # no entrypoint flag and no root: falls back to the first


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (
            _graph(services=[{"name": "a", "kind": "frontend"}, {"name": "b", "kind": "lambda"}]),
            "services[1]",
        ),
        (_graph(edges=[{"from": "a", "to": "zz"}]), "edges[0]: 'to' names unknown service 'zz'"),
        (_graph(edges=[{"from": "a", "to": "a"}]), "self-loop"),
        (
            _graph(services=[{"name": "a", "kind": "frontend"}, {"name": "a", "kind": "service"}]),
            "duplicate service",
        ),
        (
            _graph(edges=[{"from": "a", "to": "b"}, {"from": "a", "to": "b"}]),
            "edges[1]: duplicate edge",
        ),
        (_graph(services=[]), "'services' must be a non-empty list"),
        (_graph(name=""), "'name'"),
        (_graph(edges=[{"from": "a", "to": "b", "dependency": "maybe"}]), "dependency"),
        ([1, 2], "top level"),
    ],
)
def test_malformed_graphs_are_refused_naming_the_entry(doc, needle):
    with pytest.raises(GraphError) as e:
        graph_from_dict(doc, source="x.json")
    assert needle in str(e.value) and "x.json" in str(e.value)


def test_bad_files_are_refused_with_the_file_named(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "x", "services": [')
    with pytest.raises(GraphError, match=r"bad\.json: invalid JSON at line 1"):
        load_graph(bad_json)
    not_utf8 = tmp_path / "latin.json"
    not_utf8.write_bytes(b'{"name": "caf\xe9"}')
    with pytest.raises(GraphError, match="not UTF-8"):
        load_graph(not_utf8)
    with pytest.raises(GraphError, match="cannot read"):
        load_graph(tmp_path / "missing.json")


def test_generated_graph_is_reproducible_and_reachable():
    g1, g2 = generate_graph(1000, seed=3), generate_graph(1000, seed=3)
    assert g1.num_services == 1000
    assert sorted(g1.digraph.edges) == sorted(g2.digraph.edges)
    assert all(not math.isinf(v) for v in g1.depths().values())
