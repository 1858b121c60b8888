"""Shared settings of the reliability scenarios: a tiny world model, small planner budgets, a
generated mesh and its states, Ray's fast health checks. Nothing here starts anything."""

from __future__ import annotations

import math
from collections.abc import Sequence

from aither_wm.config import EncoderConfig, PredictorConfig, ProjectorConfig, WorldModelConfig
from aither_wm.graph import MeshState, ServiceGraph, nominal_service_state
from aither_wm.graph.generate import generate_graph

__all__ = [
    "CEM_SMALL",
    "HEALTH_CHECK_FAST",
    "MCTS_SMALL",
    "SLACK_MS",
    "TINY",
    "bench_graph",
    "mesh_state",
    "percentile",
]

#: A deliberately tiny world model (distinct small dimensions 16/24/12): faults, not accuracy.
TINY = WorldModelConfig(
    encoder=EncoderConfig(d_model=16, num_layers=1, num_heads=2, embed_dim=24),
    projector=ProjectorConfig(hidden_dim=32, latent_dim=12),
    # GELU: the load figures in docs/reliability.md were measured with it
    predictor=PredictorConfig(hidden_dim=32, num_blocks=1, action_dim=16, activation="gelu"),
)
CEM_SMALL = {"num_samples": 64, "num_elites": 8, "iterations": 2}
MCTS_SMALL = {"num_simulations": 32, "top_m": 8}
#: Ray system config that marks a killed node dead in about a second (default: about 15 s).
HEALTH_CHECK_FAST = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 100,
    "health_check_timeout_ms": 100,
    "health_check_failure_threshold": 5,
}
#: The controller's own work after the planners' wait (validate, guard, audit), milliseconds.
SLACK_MS = 150.0


def bench_graph(num_services: int = 12) -> ServiceGraph:
    """A generated layered mesh (self-contained: no graph file needed)."""
    return generate_graph(num_services, seed=0, name="rel-mesh")


def mesh_state(graph: ServiceGraph, step: int = 0, *, broken: str | None = None) -> MeshState:
    """Nominal state of ``graph``; ``broken`` names one service that is down."""
    services = {s: nominal_service_state() for s in graph.services}
    if broken is not None:
        services[broken] = services[broken].model_copy(
            update={"health": "down", "replicas": 0, "error_rate": 1.0}
        )
    return MeshState(graph=graph.name, step=step, services=services)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, math.ceil(q * len(v)) - 1))], 3)
