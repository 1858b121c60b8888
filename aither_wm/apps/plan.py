"""``aither-wm plan``: one planning decision for a mesh state read from a file, with the world
model of a checkpoint, in this process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aither_wm.control.planners import PlannerService, PlanRequest
from aither_wm.errors import AitherError
from aither_wm.graph import ActionSpace, parse_state
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
    """Plan for the state in ``state_path`` (a MeshState as JSON) with ``planner``; returns the
    reply (``PlanReply.to_dict()``) and ``action_sequence``, the plan's actions by name.

    Raises:
        AitherError: the state file cannot be read, or is not a state of ``graph``;
            a bad checkpoint (CheckpointError).
    """
    try:
        raw = json.loads(Path(state_path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:  # ValueError covers bad UTF-8 and JSON
        raise AitherError(f"{state_path}: cannot read state JSON ({e})") from None
    state = parse_state(raw, graph)
    ck = load_checkpoint(checkpoint)
    service = PlannerService(planner, model_config=ck.model.config, graphs=[graph])
    service.load_weights(max(1, ck.version), ck.model.state_dict())
    reply = service.plan(PlanRequest(state=state, seed=seed))
    space = ActionSpace(graph)
    return {**reply.to_dict(), "action_sequence": [str(space.action(a)) for a in reply.actions]}
