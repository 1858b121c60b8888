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
from aither_wm.models.control_model import ControlModel

__all__ = ["exam", "model_scores", "spearman"]


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
def model_scores(
    model: ControlModel, graph: ServiceGraph, sets: Sequence[BranchSet]
) -> list[np.ndarray]:
    """The control model's predicted cost of each candidate of each set: ``c[a] +
    value(P(tokens(s), a))`` (a horizon-1 plan). Returns one [C] array per set."""
    space = ActionSpace(graph)
    types, targets = space.type_ids(), space.target_ids()
    _, rel = structure(graph)
    model.eval()
    out = []
    for b in sets:
        x = featurize(graph, b.state)[0].unsqueeze(0)  # [1, N, F]
        tok = encode_states(model, rel, x).services  # [1, N, d]
        acts = torch.as_tensor(b.actions)  # [C]
        C = acts.shape[0]
        nxt = model.step_tokens(tok.expand(C, -1, -1), types[acts], targets[acts], rel.unsqueeze(0))
        out.append(b.action_cost + model.heads.value(nxt).double().numpy())
    return out


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
