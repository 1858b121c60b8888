import random

import pytest
import torch

from aither_wm.config import EncoderConfig, PredictorConfig, ProjectorConfig, WorldModelConfig
from aither_wm.errors import ShapeError
from aither_wm.graph import ActionSpace, collate, featurize, graph_from_dict, load_graph
from aither_wm.graph.generate import generate_graph
from aither_wm.models import WorldModel
from aither_wm.train.toy import toy_transitions

SMALL = WorldModelConfig(
    encoder=EncoderConfig(d_model=32, num_layers=2, num_heads=4, embed_dim=48),
    projector=ProjectorConfig(hidden_dim=64, latent_dim=16),
    predictor=PredictorConfig(hidden_dim=32, num_blocks=2, action_dim=24),
)


def _randomise(model: WorldModel) -> WorldModel:
    """Give every zero-initialised gate a value, so the tests see the whole network."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.1)
    return model.eval()


def test_pooled_embedding_does_not_depend_on_service_order():
    doc = {"name": "g", "services": [{"name": s, "kind": k} for s, k in
           [("fe", "frontend"), ("api", "service"), ("db", "database"), ("mc", "cache"), ("q", "queue")]],
           "edges": [{"from": "fe", "to": "api"}, {"from": "api", "to": "db"}, {"from": "api", "to": "mc"},
                     {"from": "mc", "to": "api", "dependency": "soft"}, {"from": "api", "to": "q"}]}  # fmt: skip
    g1 = graph_from_dict(doc)
    shuffled = dict(doc, services=random.Random(1).sample(doc["services"], 5))
    g2 = graph_from_dict(shuffled)
    assert g1.services != g2.services
    state = toy_transitions(g1, steps=30, seed=0)[-1].state  # a non-trivial state
    model = _randomise(WorldModel(SMALL))
    e1 = model.encode(collate([featurize(g1, state)]))
    e2 = model.encode(collate([featurize(g2, state)]))
    torch.testing.assert_close(e1.state, e2.state, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(e1.z, e2.z, rtol=1e-5, atol=1e-5)
    # per-service outputs are permuted with the services (equivariance)
    perm = [g1.index(s) for s in g2.services]
    torch.testing.assert_close(e1.services[0, perm], e2.services[0], rtol=1e-5, atol=1e-5)


def test_padding_does_not_change_a_graphs_embedding():
    small, big = load_graph("graphs/online-boutique.json"), generate_graph(40, seed=1)
    s_small = toy_transitions(small, steps=5, seed=0)[-1].state
    s_big = toy_transitions(big, steps=5, seed=0)[-1].state
    model = _randomise(WorldModel(SMALL))
    alone = model.encode(collate([featurize(small, s_small)]))
    padded = model.encode(collate([featurize(small, s_small), featurize(big, s_big)]))
    torch.testing.assert_close(alone.state[0], padded.state[0], rtol=1e-5, atol=1e-5)


def test_shapes_and_untrained_predictor_is_the_identity():
    g = load_graph("graphs/deathstarbench-socialnetwork.json")
    states = [t.state for t in toy_transitions(g, steps=6, seed=0)]
    model = WorldModel()  # default architecture: 768-d embedding, 256-d latent
    model.eval()
    enc = model.encode(collate([featurize(g, s) for s in states]))
    assert (
        enc.services.shape == (6, 26, 128)
        and enc.state.shape == (6, 768)
        and enc.z.shape == (6, 256)
    )
    space = ActionSpace(g)
    a = model.embed_action(enc.services, space.type_ids()[:6], space.target_ids()[:6])
    torch.testing.assert_close(model.predict(enc.z, a), enc.z)


def test_bound_dynamics_matches_the_predictor_for_every_action():
    g = load_graph("graphs/online-boutique.json")
    state = toy_transitions(g, steps=10, seed=2)[-1].state
    model = _randomise(WorldModel(SMALL))
    space = ActionSpace(g)
    enc = model.encode(collate([featurize(g, state)]))
    dyn = model.bind(enc.services[0], space.type_ids(), space.target_ids())
    assert dyn.num_actions == space.num_actions and dyn.latent_dim == 16
    K = space.num_actions
    z = enc.z.expand(K, -1)
    a = model.embed_action(enc.services, space.type_ids(), space.target_ids())
    with torch.no_grad():
        ref = model.predict(z, a)
    torch.testing.assert_close(dyn.step(z, torch.arange(K)), ref)
    # different targets really give different predictions once trained weights are non-zero
    assert not torch.allclose(ref[1], ref[2])
    with pytest.raises(ShapeError):
        dyn.step(z, torch.arange(K - 1))


def test_decisions_carry_the_planning_precision():
    from aither_wm.models import MeshWorldModel

    g = load_graph("graphs/online-boutique.json")
    state = toy_transitions(g, steps=10, seed=2)[-1].state
    model = _randomise(WorldModel(SMALL))
    auto = MeshWorldModel(model)  # 32 wide: too narrow for bf16 to pay, so fp32 everywhere
    assert auto.precision == "fp32" and auto.decision(g, state).dynamics.precision == "fp32"
    d32 = auto.decision(g, state)
    d16 = MeshWorldModel(model, precision="bf16").decision(g, state)
    assert d16.dynamics.precision == "bf16"
    K = d32.mask.shape[0]
    a = torch.arange(K).repeat(2)  # 2K >= 48 rows: the bf16 path runs
    z = d32.z0.expand(a.shape[0], -1)
    exact, approx = d32.dynamics.step(z, a), d16.dynamics.step(z, a)
    assert not torch.equal(exact, approx)
    rel = (approx - exact).norm(dim=-1) / (exact - z).norm(dim=-1)
    assert float(rel.max()) < 0.05
