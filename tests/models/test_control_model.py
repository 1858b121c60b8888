"""ControlModel: token dynamics bound to a decision, the step counter, and a short fit that beats
the "nothing changes" and "always the mean" baselines on held-out counterfactual branches."""

import numpy as np
import torch

from aither_wm.config import (
    ControlModelConfig,
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    WorldModelConfig,
)
from aither_wm.control.planners import PlannerService, PlanRequest
from aither_wm.eval.control_fit import (
    BranchTensors,
    ControlFitConfig,
    encode_states,
    fit_control_model,
)
from aither_wm.eval.counterfactual import branch_episodes
from aither_wm.eval.data import collect, training_scenarios
from aither_wm.graph import load_graph, nominal_service_state
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import structure
from aither_wm.graph.state import MeshState
from aither_wm.models import ControlModel, MeshWorldModel
from aither_wm.planning import ValueObjective

TINY = ControlModelConfig(
    world=WorldModelConfig(
        encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
        projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
        predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=16),
    ),
    value_horizon=4,
)


def nominal(graph, step=0):
    return MeshState(
        graph=graph.name, step=step, services={s: nominal_service_state() for s in graph.services}
    )


def test_untrained_token_dynamics_is_nothing_changes_and_counts_steps():
    g = load_graph("graphs/online-boutique.json")
    torch.manual_seed(0)
    d = MeshWorldModel(ControlModel(TINY)).decision(g, nominal(g))
    N = g.num_services
    assert d.z0.shape == (N * 16 + 1,) and float(d.z0[-1]) == 0.0
    z = d.dynamics.step(d.z0.expand(3, -1), torch.tensor([0, 1, 5]))
    torch.testing.assert_close(z[:, :-1], d.z0[:-1].expand(3, -1))  # zero-initialised output
    assert z[:, -1].tolist() == [1.0, 1.0, 1.0]
    assert d.cost_fn(z[:, :-1]).shape == (3,) and d.value_fn(z[:, :-1]).shape == (3,)


def test_the_action_lands_on_its_target_token():
    g = load_graph("graphs/online-boutique.json")
    torch.manual_seed(0)
    m = ControlModel(TINY)
    torch.nn.init.normal_(m.tokens.out.weight, std=0.3)
    space = ActionSpace(g)
    tok = torch.randn(2, g.num_services, 16)
    rel = structure(g)[1].unsqueeze(0)
    types, targets = space.type_ids()[[1, 2]], space.target_ids()[[1, 2]]  # restart s0, restart s1
    a = m.step_tokens(tok[:1].expand(2, -1, -1), types, targets, rel)
    assert not torch.allclose(a[0], a[1])


def test_planner_service_plans_with_the_value_objective():
    g = load_graph("graphs/online-boutique.json")
    seen = []
    svc = PlannerService("mcts", model_config=TINY, graphs=[g],
                         planner_config={"horizon": 2, "num_simulations": 16, "top_m": 4})  # fmt: skip
    orig = svc._build_objective
    svc._build_objective = lambda d, c: seen.append(orig(d, c)) or seen[-1]
    svc.load_weights(1, ControlModel(TINY).state_dict())
    r = svc.plan(PlanRequest(state=nominal(g), seed=0, anchor=1, blocked=(2, 3)))
    assert isinstance(seen[0], ValueObjective) and seen[0].horizon == 2
    assert r.first_action not in (2, 3) and r.anchor_cost is not None


def test_short_fit_beats_the_baselines_on_held_out_branches():
    torch.manual_seed(0)
    g = load_graph("graphs/online-boutique.json")
    faults = ["cache_down", "bad_deploy", "cpu_saturation"]
    eps = collect(g, training_scenarios(seed=0, episodes=8, steps=16, faults=faults))
    train = branch_episodes(
        g, training_scenarios(seed=1, episodes=10, steps=16, faults=faults), every=2, horizon=4
    )
    test = branch_episodes(
        g, training_scenarios(seed=2, episodes=6, steps=16, faults=faults), every=2, horizon=4
    )
    m = ControlModel(TINY)
    rep = fit_control_model(
        m,
        {g: eps},
        {g: train},
        ControlFitConfig(steps=150, batch_windows=4, batch_sets=4, rollout_steps=2),
    )
    assert rep.branch_rows > 0 and np.isfinite(rep.final["total"])
    b = BranchTensors.build(g, test)
    rel = structure(g)[1]
    with torch.no_grad():
        tok = encode_states(m, rel, b.x).services[b.set_of]
        pred = m.step_tokens(tok, b.type_ids, b.target_ids, rel.unsqueeze(0))
        true = encode_states(m, rel, b.x_next).services
        v_hat = m.heads.value(pred)
    # tokens: better than "nothing changes"; value: better than the training mean
    assert float(((pred - true) ** 2).mean()) < float(((tok - true) ** 2).mean())
    mean_v = float(BranchTensors.build(g, train).value.mean())
    assert float((v_hat - b.value).abs().mean()) < float((mean_v - b.value).abs().mean())
