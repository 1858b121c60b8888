"""The decision exam: does the model rank actions as the true simulator does?

At held-out states, every candidate action's true cost over the horizon is known from simulator
clones (:class:`~aither_wm.eval.counterfactual.BranchSet`). A ranker gives each candidate a
predicted cost (the raw control model: ``c[a] + value(P(tokens, a))``), or only a pick (a planner's
first action). Per state:

* hit: the pick's true cost is within ``tol`` of the best candidate's (0.1: one restart's action
  cost; several actions often tie, e.g. every useless action on a healthy mesh);
* regret: the pick's true cost minus the best, in SLO-violation steps (+ action costs);
* Spearman: rank correlation of predicted and true costs over the candidates (ties averaged;
  states where every candidate costs the same are skipped).

Reported per fault type and overall, beside two baselines on the same states: always wait
(no-op) and the runbook's pick. Pure functions of the sets, scores and picks.

:func:`calibrate_min_improvement` sets the controller's deviation threshold from held-out sets:
the smallest predicted gain over the runbook's proposal at which the model's deviations are truly
better in a given share of states (a one-shot exam rewards deviating whenever the model's pick
looks better; a controller that does so every step accumulates every small wrong action).

Glossary: C candidates of one state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from aither_wm.control.policies import ReactivePolicy
from aither_wm.eval.control_fit import encode_states
from aither_wm.eval.counterfactual import BranchSet
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import featurize, structure
from aither_wm.graph.schema import ServiceGraph
from aither_wm.graph.state import MeshState
from aither_wm.models.control_model import ControlModel

__all__ = [
    "calibrate_min_improvement",
    "deviation_gains",
    "exam",
    "model_scores",
    "q_values",
    "spearman",
]


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank. [n] -> [n] float."""
    order = np.argsort(a, kind="stable")
    r = np.empty(a.shape[0])
    r[order] = np.arange(a.shape[0])
    for v in np.unique(a):
        tied = a == v
        if tied.sum() > 1:
            r[tied] = r[tied].mean()
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation (ties averaged); NaN when either side is constant."""
    ra, rb = _ranks(np.asarray(a, dtype=float)), _ranks(np.asarray(b, dtype=float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


@torch.inference_mode()
def q_values(
    model: ControlModel,
    graph: ServiceGraph,
    state: MeshState,
    actions: np.ndarray,
    action_cost: np.ndarray,
) -> np.ndarray:
    """The control model's predicted cost of each action at ``state``: ``c[a] +
    value(P(tokens(s), a))`` (a horizon-1 plan). Shape: actions, action_cost [C] -> [C]."""
    space = ActionSpace(graph)
    types, targets = space.type_ids(), space.target_ids()
    _, rel = structure(graph)
    x = featurize(graph, state)[0].unsqueeze(0)  # [1, N, F]
    tok = encode_states(model, rel, x).services  # [1, N, d]
    acts = torch.as_tensor(actions)  # [C]
    C = acts.shape[0]
    nxt = model.step_tokens(tok.expand(C, -1, -1), types[acts], targets[acts], rel.unsqueeze(0))
    return np.asarray(action_cost, dtype=float) + model.heads.value(nxt).double().numpy()


def model_scores(
    model: ControlModel, graph: ServiceGraph, sets: Sequence[BranchSet]
) -> list[np.ndarray]:
    """:func:`q_values` of each set's candidates. Returns one [C] array per set."""
    model.eval()
    return [q_values(model, graph, b.state, b.actions, b.action_cost) for b in sets]


def _runbook_pick(graph: ServiceGraph, b: BranchSet) -> int:
    space = ActionSpace(graph)
    k = space.index(ReactivePolicy().decide(graph, b.state))
    rows = np.flatnonzero(b.actions == k)
    return int(rows[0]) if rows.size else 0


def exam(
    graph: ServiceGraph,
    sets: Sequence[BranchSet],
    *,
    scores: Sequence[np.ndarray] | None = None,
    picks: Sequence[int] | None = None,
    tol: float = 0.1,
) -> dict[str, Any]:
    """Score one ranker on ``sets`` (see the module docstring).

    Args:
        scores: predicted cost of each candidate of each set (the pick is the lowest).
        picks: flat action picked at each set (a planner's first action); a pick that is not
            among a set's candidates counts as a miss with unknown regret (skipped in the mean).
    """
    if (scores is None) == (picks is None):
        raise ValueError("give exactly one of scores and picks")
    rows: dict[str, dict[str, list[float]]] = {}
    for i, b in enumerate(sets):
        if scores is not None:
            s = np.asarray(scores[i])
            row: int | None = int(np.argmin(s))
            rho = spearman(s, b.q)
        else:
            assert picks is not None
            found = np.flatnonzero(b.actions == int(picks[i]))
            row, rho = (int(found[0]) if found.size else None), float("nan")
        best = float(b.q.min())
        d = rows.setdefault(
            b.fault or "none", {k: [] for k in ("hit", "regret", "rho", "runbook", "noop")}
        )
        regret = float(b.q[row]) - best if row is not None else float("nan")
        d["hit"].append(float(row is not None and regret <= tol))
        d["regret"].append(regret)
        d["rho"].append(rho)
        d["runbook"].append(float(b.q[_runbook_pick(graph, b)]) - best)
        d["noop"].append(float(b.q[0]) - best)

    def summary(d: dict[str, list[float]]) -> dict[str, Any]:
        def mean(v: list[float]) -> float | None:
            a = np.asarray(v, dtype=float)
            a = a[np.isfinite(a)]
            return round(float(a.mean()), 4) if a.size else None

        return {
            "n": len(d["hit"]),
            "hit_rate": mean(d["hit"]),
            "regret": mean(d["regret"]),
            "spearman": mean(d["rho"]),
            "runbook_hit_rate": mean([float(r <= tol) for r in d["runbook"]]),
            "runbook_regret": mean(d["runbook"]),
            "noop_hit_rate": mean([float(r <= tol) for r in d["noop"]]),
            "noop_regret": mean(d["noop"]),
        }

    every = {
        k: [x for d in rows.values() for x in d[k]]
        for k in ("hit", "regret", "rho", "runbook", "noop")
    }
    faulted = {
        k: [x for f, d in rows.items() if f != "none" for x in d[k]]
        for k in ("hit", "regret", "rho", "runbook", "noop")
    }
    return {
        "overall": summary(every),
        "faulted": summary(faulted) if faulted["hit"] else None,
        "by_fault": {f: summary(d) for f, d in sorted(rows.items())},
        "tol": tol,
    }


#: Thresholds :func:`calibrate_min_improvement` tries, in violation-steps.
THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def deviation_gains(
    graph: ServiceGraph,
    sets: Sequence[BranchSet],
    scores: Sequence[np.ndarray],
    *,
    runbook_waits: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """At each set where the model's pick (lowest score) is not the runbook's: the predicted
    gain ``score[runbook] - score[pick]`` and the true gain ``q[runbook] - q[pick]``. -> [M], [M]

    ``runbook_waits``: only the sets where the runbook proposes no-op (True: deviating means
    acting where the rules wait) or an action (False: a different action or waiting); None: all.
    """
    pred, true = [], []
    for b, s in zip(sets, scores, strict=True):
        s = np.asarray(s)
        pick, rb = int(np.argmin(s)), _runbook_pick(graph, b)
        if runbook_waits is not None and (int(b.actions[rb]) == 0) != runbook_waits:
            continue
        if pick != rb:
            pred.append(float(s[rb] - s[pick]))
            true.append(float(b.q[rb] - b.q[pick]))
    return np.asarray(pred), np.asarray(true)


def calibrate_min_improvement(
    predicted: np.ndarray,
    true: np.ndarray,
    *,
    precision: float = 0.75,
    min_support: int = 5,
    tol: float = 0.05,
    grid: Sequence[float] = THRESHOLDS,
) -> tuple[float, list[dict[str, float]]]:
    """The smallest threshold of ``grid`` at which the model's deviations are right often enough.

    ``predicted``, ``true``: :func:`deviation_gains` of held-out sets. A threshold tau keeps the
    deviations whose predicted gain is at least tau; it qualifies when at least ``min_support``
    are kept and a share ``precision`` of them are truly better by more than ``tol``. Returns
    (tau, one row per grid value: tau, kept, precision, mean true gain); the largest grid value
    when none qualifies.
    """
    table, chosen = [], None
    for tau in grid:
        kept = predicted >= tau
        n = int(kept.sum())
        share = float(np.mean(true[kept] > tol)) if n else float("nan")
        table.append({"tau": float(tau), "kept": n, "precision": round(share, 4),
                      "mean_true_gain": round(float(true[kept].mean()), 4) if n else float("nan")})  # fmt: skip
        if chosen is None and n >= min_support and share >= precision:
            chosen = float(tau)
    return (chosen if chosen is not None else float(grid[-1])), table
