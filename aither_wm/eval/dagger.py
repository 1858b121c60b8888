"""DAgger for the control model: branch the states its own decisions lead to.

Branch sets played under the runbook or random exploration (:class:`~aither_wm.eval.counterfactual.RunbookExplore`)
cover the states a good controller visits, not the ones the model's own choices lead to: a model
that waits on a dead cache reaches "cache down for ten steps", which the runbook never shows it,
and there its predictions are worst. DAgger (Ross et al., 2011) fixes the mismatch by rounds:
train, play the trained model, branch the states it visits, train on everything.

:class:`ModelBehaviour` is that policy as a branch-episode behaviour: the control model's greedy
choice over every valid action (``c[a] + value(P(tokens, a))``, what the planners do at horizon 1),
the runbook's proposal as the anchor it must beat by ``min_improvement`` (the controller's rule),
and random exploration with probability ``p_explore``. It pickles (weights and config), so
:func:`~aither_wm.eval.counterfactual.branch_episodes` can run it in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from aither_wm.config import ControlModelConfig
from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.data import ExplorePolicy
from aither_wm.eval.decisions import q_values
from aither_wm.graph.state import Action
from aither_wm.models.control_model import ControlModel
from aither_wm.sim.mesh import MeshSimulator

__all__ = ["ModelBehaviour"]

_RUNBOOK = ReactivePolicy()


@dataclass
class ModelBehaviour:
    """The control model's anchored greedy choice, with exploration (see the module docstring).

    Attributes:
        config: the model's architecture.
        weights: its state dict.
        min_improvement: predicted gain over the runbook's proposed action needed to deviate
            from it, in violation-steps.
        min_improvement_wait: predicted gain over waiting needed to act where the runbook
            proposes nothing; None: ``min_improvement``.
        p_explore: probability of an :class:`~aither_wm.eval.data.ExplorePolicy` step instead.
    """

    config: ControlModelConfig
    weights: dict[str, torch.Tensor]
    min_improvement: float = 0.25
    min_improvement_wait: float | None = None
    p_explore: float = 0.1
    explore: ExplorePolicy = field(default_factory=ExplorePolicy)
    _model: ControlModel | None = field(default=None, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_model"] = None  # rebuilt from the weights where it is unpickled
        return state

    def model(self) -> ControlModel:
        if self._model is None:
            torch.set_num_threads(1)
            model = ControlModel(self.config)
            model.load_state_dict(self.weights)
            self._model = model.eval()
        return self._model

    def act(self, sim: MeshSimulator, rng: np.random.Generator) -> Action:
        if rng.random() < self.p_explore:
            return self.explore.act(sim, rng)
        space, state = sim.action_space, sim.observe()
        valid = np.flatnonzero(sim.action_mask())  # [C], no-op (0) always valid
        cost = np.array([sim.config.action_cost(space.action(int(k)).type.value) for k in valid])
        q = q_values(self.model(), sim.graph, state, valid, cost)  # [C]
        pick = int(valid[int(np.argmin(q))])
        anchor = space.index(_RUNBOOK.decide(sim.graph, state))
        if anchor not in valid:
            anchor = 0
        if pick != anchor:
            q_of = dict(zip(valid.tolist(), q.tolist(), strict=True))
            tau = self.min_improvement
            if anchor == 0 and self.min_improvement_wait is not None:
                tau = self.min_improvement_wait
            if q_of[anchor] - q_of[pick] < tau:
                pick = anchor
        return space.action(pick)
