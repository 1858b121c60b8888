"""``aither-wm plan``: one planning decision for a mesh state read from a file, with the world
model of a checkpoint, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aither_wm.apps.state import read_state_file
from aither_wm.control.planners import PlannerService, PlanRequest
from aither_wm.graph import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.train import load_checkpoint

__all__ = ["plan_state"]


def plan_state(
    graph: ServiceGraph,
    state_path: str | Path,
    *,
    checkpoint: str | Path,
    planner: str = "cem",
    seed: int = 0,
) -> dict[str, Any]:
    """Plan for the state in ``state_path`` (the JSON state format: :mod:`aither_wm.apps.state`,
    docs/host.md) with ``planner``; returns the
    reply (``PlanReply.to_dict()``) and ``action_sequence``, the plan's actions by name.

    Raises:
        AitherError: the state file cannot be read, or is not a state of ``graph``;
            a bad checkpoint (CheckpointError).
    """
    state = read_state_file(state_path, graph)
    ck = load_checkpoint(checkpoint)
    service = PlannerService(planner, model_config=ck.model.config, graphs=[graph])
    service.load_weights(max(1, ck.version), ck.model.state_dict())
    reply = service.plan(PlanRequest(state=state, seed=seed))
    space = ActionSpace(graph)
    return {**reply.to_dict(), "action_sequence": [str(space.action(a)) for a in reply.actions]}
