import torch

from aither_wm.graph import (
    FEATURE_DIM,
    Action,
    ActionSpace,
    ActionType,
    MeshState,
    collate,
    featurize,
    graph_from_dict,
    nominal_service_state,
)
from aither_wm.graph.features import structure

G = graph_from_dict(
    {"name": "g", "services": [{"name": "a", "kind": "frontend", "entrypoint": True},
                               {"name": "b", "kind": "service"}, {"name": "c", "kind": "database"}],
     "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c", "dependency": "soft"},
               {"from": "c", "to": "b"}]}
)  # fmt: skip


def _state(**b):
    svc = {s: nominal_service_state() for s in G.services}
    svc["b"] = nominal_service_state().model_copy(update=b)
    return MeshState(graph="g", services=svc)


def test_flat_index_round_trips_and_layout_is_documented():
    space = ActionSpace(G)
    assert space.num_actions == 1 + 4 * 3
    for k in range(space.num_actions):
        assert space.index(space.action(k)) == k
    assert space.action(1 + 3 * 3 + 1) == Action(type=ActionType.rollback, target="b")
    assert space.type_ids().tolist()[:5] == [0, 1, 1, 1, 2]
    assert space.target_ids().tolist()[:5] == [-1, 0, 1, 2, 0]


def test_masks_follow_replica_bounds_and_rollback_history():
    space = ActionSpace(G, min_replicas=1, max_replicas=3)
    m = space.mask(_state(replicas=3))
    assert not m[space.index(Action(type=ActionType.scale_out, target="b"))]
    assert not m[space.index(Action(type=ActionType.rollback, target="b"))]
    assert m[space.index(Action(type=ActionType.scale_in, target="b"))]
    m = space.mask(_state(replicas=1, previous_version=0))
    assert not m[space.index(Action(type=ActionType.scale_in, target="b"))]
    assert m[space.index(Action(type=ActionType.rollback, target="b"))]
    assert m[0]


def test_features_are_fixed_order_and_relations_exact():
    x, rel = featurize(G, _state(error_rate=0.5))
    assert x.shape == (3, FEATURE_DIM)
    struct, _ = structure(G)
    assert struct[2, 4] == 1.0  # c is a database (kind column 4)
    assert x[1, FEATURE_DIM - 7] == 0.5  # error_rate column of b
    assert rel.tolist() == [[1, 2, 0], [4, 1, 3], [0, 2, 1]]


def test_collate_pads_and_masks_mixed_graphs():
    small = graph_from_dict(
        {"name": "s", "services": [{"name": "x", "kind": "service"}], "edges": []}
    )
    xs = featurize(small, MeshState(graph="s", services={"x": nominal_service_state()}))
    xg = featurize(G, _state())
    b = collate([xs, xg])
    assert b.x.shape == (2, 3, FEATURE_DIM)
    assert b.mask.tolist() == [[True, False, False], [True, True, True]]
    assert torch.equal(b.x[0, 1:], torch.zeros(2, FEATURE_DIM))
