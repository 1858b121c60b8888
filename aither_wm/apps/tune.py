"""``aither-wm tune lambda``: the lambda search on an embedded Ray, trials as parallel tasks
(:func:`aither_wm.runtime.tune.tune_lambda`), on transitions of one graph."""

from __future__ import annotations

from typing import Any

from aither_wm.apps.defaults import TUNE_MAX_TRIALS, TUNE_PARALLEL
from aither_wm.config import TrainConfig
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import Transition
from aither_wm.runtime.host import RayHost, RuntimeConfig
from aither_wm.runtime.tune import tune_lambda

__all__ = ["tune_lambda_on_ray"]


def tune_lambda_on_ray(
    graph: ServiceGraph,
    transitions: list[Transition],
    *,
    train_config: TrainConfig,
    max_trials: int = TUNE_MAX_TRIALS,
    parallel: int = TUNE_PARALLEL,
) -> dict[str, Any]:
    """Start Ray with ``parallel`` CPUs (or join ``RAY_ADDRESS``), run the search, stop Ray."""
    with RayHost(RuntimeConfig(num_cpus=parallel)):
        return tune_lambda(
            graph, transitions, train_config=train_config, max_trials=max_trials, parallel=parallel
        )
