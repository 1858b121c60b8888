"""ValueObjective: a remedy whose benefit shows after the horizon is found only with the value.

The toy mesh: latent [s, depth] with s = 1 broken, 0.5 warming up, 0 healthy. Actions: 0 wait
(broken stays broken, warming becomes healthy), 1 restart (anything -> warming), 2 break.
Step cost: 1 while not healthy. Value (cost from a state on): broken 8, warming 1, healthy 0.
Restarting costs as much as waiting in the next step (the replica warms up first): a planner that
sees only the step cost waits; with the value at the horizon it restarts.
"""

import pytest
import torch

from aither_wm.errors import ConfigError, ShapeError
from aither_wm.planning import (
    BeamPlanner,
    CEMConfig,
    CEMPlanner,
    MCTSConfig,
    MCTSPlanner,
    PlanObjective,
)
from aither_wm.planning.value import ValueObjective

K = 3


class WarmUpDynamics:
    num_actions = K
    latent_dim = 2

    def step(self, z, actions):
        s, depth = z[:, 0], z[:, 1]
        wait = torch.where(s == 0.5, torch.zeros_like(s), s)
        nxt = torch.where(actions == 1, torch.full_like(s, 0.5), wait)
        nxt = torch.where(actions == 2, torch.ones_like(s), nxt)
        return torch.stack([nxt, depth + 1], dim=1)


def cost_fn(body):
    return (body[..., 0] > 0.25).float()


def value_fn(body):
    s = body[..., 0]
    return torch.where(s == 1.0, 8.0, torch.where(s == 0.5, 1.0, 0.0))


def objective(horizon):
    return ValueObjective(
        goal=torch.zeros(2), action_cost=torch.tensor([0.0, 0.1, 0.1]), cost_fn=cost_fn,
        value_fn=value_fn, horizon=horizon,
    )  # fmt: skip


Z0 = torch.tensor([1.0, 0.0])
MASK = torch.ones(K, dtype=torch.bool)


@pytest.mark.parametrize("horizon", [1, 2, 3])
@pytest.mark.parametrize(
    "make",
    [
        lambda h: CEMPlanner(CEMConfig(horizon=h, num_samples=30, num_elites=5)),
        lambda h: MCTSPlanner(MCTSConfig(horizon=h, num_simulations=40, top_m=3)),
        lambda h: BeamPlanner(horizon=h),
    ],
)
def test_planners_restart_now_with_the_terminal_value(make, horizon):
    r = make(horizon).plan(WarmUpDynamics(), Z0, objective(horizon), MASK, seed=0)
    assert r.first_action == 1
    # restart now, then wait: 1 (warming) + value of healthy 0 after it, + 0.1 action cost
    expected = 0.1 + (0.0 if horizon == 1 else 1.0) + (1.0 if horizon == 1 else 0.0)
    assert r.cost == pytest.approx(expected)


def test_the_step_cost_alone_waits():
    plain = PlanObjective(goal=torch.zeros(2), action_cost=torch.tensor([0.0, 0.1, 0.1]))

    class CostOnly(PlanObjective):
        def distance(self, latents):
            return cost_fn(latents)

    obj = CostOnly(goal=plain.goal, action_cost=plain.action_cost)
    r = BeamPlanner(horizon=1).plan(WarmUpDynamics(), Z0, obj, MASK, seed=0)
    assert r.first_action == 0  # the delayed benefit is invisible


def test_distance_reads_the_depth_and_prior_reads_the_value():
    obj = objective(2)
    lat = torch.tensor([[0.5, 1.0], [0.5, 2.0], [1.0, 2.0]])
    assert obj.distance(lat).tolist() == [1.0, 1.0, 8.0]
    assert obj.prior_distance(lat).tolist() == [1.0, 1.0, 8.0]
    assert obj.distance(torch.tensor([[0.0, 1.0]])).tolist() == [0.0]


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError):
        ValueObjective(goal=torch.zeros(2), action_cost=torch.zeros(3), horizon=1)
    with pytest.raises(ShapeError):
        objective(2).weights(3)
