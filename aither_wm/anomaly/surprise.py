"""Surprise: how far the observed next latent landed from the world model's prediction.

``surprise = ||z_next_hat - z_next||^2 / D`` for one (state, action, next_state) step.

Attribution answers "which services moved against the prediction": for each service i, the
observed next state is re-encoded with service i's metrics put back to what they were before
the step (the "nothing changed here" counterfactual); the drop in surprise is service i's share.
All N counterfactuals are encoded in one batch of N rows, and only when asked (on an alarm).

Glossary: N services, F features, D latent.
"""

from __future__ import annotations

import torch

from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import GraphBatch, STRUCT_DIM, featurize
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Action, MeshState
from aither_wm.models.mesh_model import MeshWorldModel

__all__ = ["SurpriseMeter"]


class SurpriseMeter:
    """Computes per-step surprise (and, on demand, per-service attribution) with a world model."""

    def __init__(self, model: MeshWorldModel, graph: ServiceGraph) -> None:
        self.model, self.graph = model, graph
        self.space = ActionSpace(graph, model.min_replicas, model.max_replicas)

    @torch.inference_mode()
    def _predict(self, state: MeshState, action: Action) -> torch.Tensor:
        a = torch.tensor([self.space.index(action)])
        _, z_hat = self.model.predict(self.graph, [state], a)
        return z_hat[0]  # [D]

    @torch.inference_mode()
    def surprise(self, state: MeshState, action: Action, next_state: MeshState) -> float:
        """||z_next_hat - z_next||^2 / D for one step."""
        z_hat = self._predict(state, action)
        z_next = self.model.encode(self.graph, [next_state]).z[0]  # [D]
        return float((z_hat - z_next).pow(2).mean())

    @torch.inference_mode()
    def attribution(self, state: MeshState, action: Action, next_state: MeshState, top: int = 5) -> tuple[tuple[str, float], ...]:
        """The ``top`` services whose change explains most of the surprise, with their share."""
        z_hat = self._predict(state, action)  # [D]
        x_prev, rel = featurize(self.graph, state)  # [N, F], [N, N]
        x_next, _ = featurize(self.graph, next_state)  # [N, F]
        N = x_next.shape[0]
        xs = x_next.unsqueeze(0).repeat(N + 1, 1, 1)  # [N+1, N, F]; row 0 = as observed
        idx = torch.arange(N)
        xs[idx + 1, idx, STRUCT_DIM:] = x_prev[idx, STRUCT_DIM:]  # row i+1: service i reverted
        batch = GraphBatch(xs, rel.unsqueeze(0).expand(N + 1, N, N), torch.ones(N + 1, N, dtype=torch.bool))
        z = self.model.model.encode(batch).z  # [N+1, D]
        s = (z - z_hat).pow(2).mean(-1)  # [N+1]
        drop = (s[0] - s[1:]).clamp_min(0.0)  # [N]
        total = float(drop.sum())
        if total <= 0:
            return ()
        order = torch.argsort(drop, descending=True)[:top]
        return tuple((self.graph.services[int(i)], float(drop[i]) / total) for i in order if drop[i] > 0)
