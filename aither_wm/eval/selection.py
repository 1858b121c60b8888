"""Closed-loop threshold selection: play held-out episodes at each threshold, keep the best.

The open-loop calibration (:func:`aither_wm.eval.decisions.calibrate_min_improvement`) scores
one decision at a time on states the runbook visits. A controller that replans every step
visits other states once it deviates (a restart instead of a rollback at step 4 changes
what step 7 looks like), and there a threshold that looked safe one step at a time can lose
minutes. :func:`select_threshold` measures what the benchmark measures instead: it plays the
same held-out scenarios under the policy built at every threshold of a grid and keeps

    the setting with the fewest SLO-violation minutes, among those whose policy takes no more
    wrong or harmful actions than the baseline (the runbook; within ``wrong_tolerance``) and
    never acts on a fault-free episode; ties go to the more conservative setting;

a setting is a threshold or a tuple of them (e.g. the controller's two). The grid should hold
one that nothing passes (:data:`NEVER`): the controller then keeps the runbook's proposals, so
the rules are always a candidate. The scenarios must be disjoint from the evaluation's (other
seeds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from aither_wm.eval.episodes import EpisodePolicy, Scenario, run_scenario
from aither_wm.eval.metrics import score_record
from aither_wm.graph.schema import ServiceGraph

__all__ = ["NEVER", "play_score", "select_threshold"]

#: A threshold no predicted gain passes: the controller keeps the runbook's proposal.
NEVER = 1e9


T = TypeVar("T")
Cases = Sequence[tuple[ServiceGraph, Sequence[Scenario]]]


def play_score(cases: Cases, make: Callable[[ServiceGraph], EpisodePolicy]) -> dict[str, float]:
    """Mean SLO-violation minutes and wrong-or-harmful actions per episode of the policy
    ``make(graph)`` on every case's scenarios, and its actions on fault-free ones (a total)."""
    scores = []
    for graph, scenarios in cases:
        policy = make(graph)
        try:
            scores += [(s, score_record(run_scenario(graph, s, policy))) for s in scenarios]
        finally:
            if hasattr(policy, "close"):
                policy.close()
    return {
        "slo_violation_minutes": float(np.mean([m["slo_violation_minutes"] for _, m in scores])),
        "wrong_or_harmful_actions": float(
            np.mean([m["wrong_or_harmful_actions"] for _, m in scores])
        ),
        "fault_free_actions": float(sum(m["actions"] for s, m in scores if s.fault is None)),
    }


def select_threshold(
    cases: Cases,
    make_policy: Callable[[ServiceGraph, T], EpisodePolicy],
    baseline: Callable[[ServiceGraph], EpisodePolicy],
    grid: Sequence[T],
    *,
    wrong_tolerance: float = 0.05,
) -> tuple[T, list[dict[str, Any]]]:
    """The setting of ``grid`` whose policy heals the cases' scenarios best (see the module
    docstring). ``make_policy(graph, setting)`` and ``baseline(graph)`` build the policies;
    ``grid`` runs from the most to the least deviating setting (ties go to the later one).
    ``wrong_tolerance``: wrong-or-harmful actions per episode allowed above the baseline's (the
    noise of a mean over a few dozen episodes: one action in twenty episodes).

    Returns (setting, one row for the baseline and one per setting: the setting, the
    :func:`play_score` figures, eligible). With no eligible setting: the last of ``grid``.
    """
    base = play_score(cases, baseline)
    rows: list[dict[str, Any]] = [
        {"setting": "baseline", **{k: round(v, 4) for k, v in base.items()}, "eligible": True}
    ]
    best: tuple[float, int] | None = None  # (minutes, -position)
    chosen = grid[-1]
    for i, setting in enumerate(grid):
        m = play_score(cases, lambda g, x=setting: make_policy(g, x))
        ok = (
            m["wrong_or_harmful_actions"] <= base["wrong_or_harmful_actions"] + wrong_tolerance
            and m["fault_free_actions"] == 0
        )
        rows.append({"setting": setting, **{k: round(v, 4) for k, v in m.items()}, "eligible": ok})
        key = (round(m["slo_violation_minutes"], 6), -i)
        if ok and (best is None or key < best):
            best, chosen = key, setting
    return chosen, rows
