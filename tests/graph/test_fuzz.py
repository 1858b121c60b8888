"""Fuzz the graph loader and the state parser: bad input is refused with our error, never a crash."""

import contextlib
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aither_wm.errors import GraphError, StateError
from aither_wm.graph import (
    featurize,
    graph_from_dict,
    load_graph,
    nominal_service_state,
    parse_state,
)
from aither_wm.graph.generate import generate_graph
from aither_wm.graph.state import MeshState

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=20,
)
names = st.sampled_from(["a", "b", "c", "", "a"]) | st.text(max_size=3)
kinds = (
    st.sampled_from(["frontend", "service", "cache", "database", "queue", "gateway", "blob", ""])
    | json_scalars
)
services = st.lists(st.fixed_dictionaries({"name": names, "kind": kinds}) | json_values, max_size=6)
edges = st.lists(st.fixed_dictionaries({"from": names, "to": names}) | json_values, max_size=6)
graph_docs = st.fixed_dictionaries(
    {"name": names | json_scalars, "services": services | json_values, "edges": edges | json_values}
)


@settings(max_examples=300, deadline=None)
@given(doc=graph_docs | json_values)
def test_graph_loader_accepts_or_refuses_with_graph_error(doc):
    try:
        g = graph_from_dict(doc, source="fuzz.json")
    except GraphError as e:
        assert "fuzz.json" in str(e)
    else:
        assert g.num_services == len(doc["services"]) >= 1


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_graph_file_bytes_never_crash_the_loader(tmp_path, raw):
    p = tmp_path / "g.json"
    p.write_bytes(raw)
    try:
        load_graph(p)
    except GraphError as e:
        assert str(p) in str(e)


G = graph_from_dict(
    {
        "name": "g",
        "services": [{"name": "a", "kind": "frontend"}, {"name": "b", "kind": "cache"}],
        "edges": [],
    }
)
numbers = st.floats(allow_nan=True, allow_infinity=True) | st.integers(
    min_value=-(10**30), max_value=10**30
)
fields = st.sampled_from([*sorted(nominal_service_state().model_dump()), "bogus"])


@settings(max_examples=300, deadline=None)
@given(field=fields, value=numbers | json_scalars, svc=st.sampled_from(["a", "b", "zz"]))
def test_state_parser_accepts_only_finite_in_range_values(field, value, svc):
    doc = {"graph": "g", "services": {s: nominal_service_state().model_dump() for s in ("a", "b")}}
    doc["services"].setdefault(svc, nominal_service_state().model_dump())[field] = value
    try:
        state = parse_state(doc, G)
    except StateError as e:
        assert str(e)
    else:
        for s in state.services.values():
            for v in s.model_dump().values():
                assert not isinstance(v, float) or math.isfinite(v)


@settings(max_examples=100, deadline=None)
@given(doc=json_values)
def test_state_parser_refuses_arbitrary_json(doc):
    with contextlib.suppress(StateError):
        parse_state(doc, G)


def test_ten_thousand_services_load_and_featurize(tmp_path):
    g = generate_graph(10_000, seed=0)
    doc = {"name": g.name, "services": [{"name": s, "kind": g.kind(s)} for s in g.services],
           "edges": [{"from": u, "to": v} for u, v in g.digraph.edges]}  # fmt: skip
    p = tmp_path / "big.json"
    p.write_text(json.dumps(doc))
    big = load_graph(p)
    assert big.num_services == 10_000
    state = MeshState(graph=big.name, services={s: nominal_service_state() for s in big.services})
    x, rel = featurize(big, state)
    assert x.shape == (10_000, x.shape[1]) and rel.shape == (10_000, 10_000)
