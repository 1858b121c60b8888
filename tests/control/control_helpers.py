"""Helpers of the controller tests: a small graph, a tiny world model, mesh states."""

from aither_wm.config import EncoderConfig, PredictorConfig, ProjectorConfig, WorldModelConfig
from aither_wm.graph import MeshState, load_graph, nominal_service_state

#: A deliberately tiny world model (distinct small dimensions: 16/24/12) for fast planning tests.
TINY = WorldModelConfig(
    encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
    projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
    predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=16),
)

#: Small planner budgets: a decision takes milliseconds.
CEM_SMALL = {"num_samples": 64, "num_elites": 8, "iterations": 2}
MCTS_SMALL = {"num_simulations": 32, "top_m": 8}


def boutique():
    return load_graph("graphs/online-boutique.json")


def make_state(graph, step: int = 0, overrides: dict | None = None) -> MeshState:
    """Nominal state of ``graph`` at ``step``; ``overrides`` maps service -> field updates."""
    services = {s: nominal_service_state() for s in graph.services}
    for name, upd in (overrides or {}).items():
        services[name] = services[name].model_copy(update=upd)
    return MeshState(graph=graph.name, step=step, services=services)
