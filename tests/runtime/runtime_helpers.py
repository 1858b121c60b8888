"""Helpers of the runtime tests: a tiny world model, small planner budgets, states, transitions."""

from aither_wm.config import (
    EncoderConfig,
    PredictorConfig,
    ProjectorConfig,
    TrainConfig,
    WorldModelConfig,
)
from aither_wm.graph import MeshState, load_graph, nominal_service_state
from aither_wm.runtime import RuntimeConfig

#: A deliberately tiny world model (distinct small dimensions: 16/24/12).
TINY = WorldModelConfig(
    encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
    projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
    predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=16),
)
TINY_TRAIN = TrainConfig(steps=20, batch_size=16, num_slices=32, warmup_steps=2, lr=2e-3)
CEM_SMALL = {"num_samples": 64, "num_elites": 8, "iterations": 2}
MCTS_SMALL = {"num_simulations": 32, "top_m": 8}

#: Half a CPU per actor so that the trainer, two planners and a controller fit on 2 CPUs.
RT = RuntimeConfig(
    namespace="aither_wm_test",
    planner_num_cpus=0.5,
    trainer_num_cpus=0.5,
    encoder_num_cpus=0.25,
    max_restarts=1,
)


def boutique():
    return load_graph("graphs/online-boutique.json")


def make_state(graph, step: int = 0, overrides: dict | None = None) -> MeshState:
    services = {s: nominal_service_state() for s in graph.services}
    for name, upd in (overrides or {}).items():
        services[name] = services[name].model_copy(update=upd)
    return MeshState(graph=graph.name, step=step, services=services)


def broken_state(graph, step: int = 0) -> MeshState:
    return make_state(
        graph, step, {"adservice": {"health": "down", "replicas": 0, "error_rate": 1.0}}
    )
