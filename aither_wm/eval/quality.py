"""World-model quality on held-out labelled episodes, bucketed so an aggregate cannot hide a failure.

* prediction error against "nothing changes" (``train.metrics.evaluate_buckets``), per bucket:
  ``no_fault``, ``seen:<fault>`` / ``unseen:<fault>`` (fault type in the training data or not),
  and per (fault, action type) pair seen or unseen in training;
* a linear probe from the latent to per-service true health (:class:`~aither_wm.eval.health.
  HealthProbe`), fit on the training episodes' latents, scored per fault bucket on encoded
  held-out states and on *predicted* next latents (per (fault, action) bucket);
* the health head read along open-loop rollouts: Brier score of P(SLO violated) after
  h = 0..H predicted steps (h = 0 is the encoded state), the number a planner's objective rests on.

Glossary: T states, N services, D latent, H horizon.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from aither_wm.eval.data import LabelledEpisode
from aither_wm.eval.health import HealthHead, fit_probe
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.mesh_model import Decision, MeshWorldModel
from aither_wm.models.world_model import WorldModel
from aither_wm.planning.objective import PlanObjective, rollout
from aither_wm.train.dataset import GraphTransitions, TransitionDataset
from aither_wm.train.metrics import evaluate, evaluate_buckets

__all__ = ["model_quality", "remedy_ranking", "rollout_brier"]


def _encode_states(
    mesh: MeshWorldModel, graph: ServiceGraph, eps: Sequence[LabelledEpisode]
) -> torch.Tensor:
    """Latents of every transition's state. Shape: [T, D]."""
    states = [t.state for e in eps for t in e.transitions]
    return torch.cat(
        [mesh.encode(graph, states[i : i + 256]).z for i in range(0, len(states), 256)]
    )


def _fault_name(labels: Sequence[str]) -> str | None:
    return labels[0].split(":")[0] if labels else None


def rollout_brier(
    mesh: MeshWorldModel,
    head: HealthHead,
    graph: ServiceGraph,
    episodes: Sequence[LabelledEpisode],
    *,
    horizon: int,
    stride: int = 3,
) -> list[float]:
    """Brier score of the head's P(SLO violated) after h predicted steps along the logged actions,
    for h = 0..horizon, over windows starting every ``stride`` steps. Returns [H + 1]."""
    space = ActionSpace(graph)
    err = np.zeros(horizon + 1)
    n = 0
    with torch.inference_mode():
        for e in episodes:
            acts = torch.tensor([space.index(t.action) for t in e.transitions])  # [T]
            for t0 in range(0, len(e.transitions) - horizon + 1, stride):
                d = mesh.decision(graph, e.transitions[t0].state)
                z = d.z0[None]  # [1, D]
                ps = [float(head.probabilities(z)[0][0])]
                for h in range(horizon):
                    z = d.dynamics.step(z, acts[t0 + h : t0 + h + 1])  # [1, D]
                    ps.append(float(head.probabilities(z)[0][0]))
                err += (np.asarray(ps) - e.violated[t0 : t0 + horizon + 1].astype(float)) ** 2
                n += 1
    return [round(float(x), 4) for x in err / max(n, 1)]


def remedy_ranking(
    mesh: MeshWorldModel,
    objectives: dict[str, Callable[[Decision], PlanObjective]],
    graph: ServiceGraph,
    episodes: Sequence[LabelledEpisode],
    *,
    horizon: int,
    stride: int = 3,
) -> dict[str, dict[str, float]]:
    """How each objective ranks the true remedy among the valid actions (each followed by
    ``horizon - 1`` no-ops, scored on the model's rollouts), at held-out states where a fault
    with an active remedy (not "wait") is on. Per objective: mean rank percentile of the remedy
    (0 best, 1 worst), the fraction of states where it is the top action, and where it beats
    no-op. Also, for the objective ``goal``, nothing else is needed: it is built from ``d.goal``."""
    from aither_wm.graph.state import Action, ActionType
    from aither_wm.sim.faults import REMEDIES

    rows: dict[str, list[tuple[float, bool, bool]]] = {k: [] for k in objectives}
    with torch.inference_mode():
        for e in episodes:
            if e.fault is None or e.target is None or REMEDIES[e.fault].remedy is ActionType.noop:
                continue
            for t, tr in enumerate(e.transitions):
                if t % stride or not tr.faults:
                    continue
                d = mesh.decision(graph, tr.state)
                k_star = d.space.index(Action(type=REMEDIES[e.fault].remedy, target=e.target))
                if not bool(d.mask[k_star]):
                    continue
                valid = d.mask.nonzero().flatten()  # [Kv]
                seqs = torch.zeros(valid.numel(), horizon, dtype=torch.long)  # [Kv, H]
                seqs[:, 0] = valid
                latents = rollout(d.dynamics, d.z0, seqs)  # [Kv, H, D]
                j = int((valid == k_star).nonzero()[0, 0])
                for name, make in objectives.items():
                    cost = make(d).cost(latents, seqs)  # [Kv]
                    better = int((cost < cost[j]).sum())
                    rows[name].append(
                        (better / max(1, valid.numel() - 1), better == 0, bool(cost[j] < cost[0]))
                    )
    out = {}
    for name, r in rows.items():
        if r:
            a = np.asarray(r, dtype=float)
            out[name] = {"states": len(r), "remedy_rank_pct": round(float(a[:, 0].mean()), 3),
                         "remedy_top1": round(float(a[:, 1].mean()), 3),
                         "remedy_beats_noop": round(float(a[:, 2].mean()), 3)}  # fmt: skip
    return out


def goal_distance_auc(
    mesh: MeshWorldModel,
    graph: ServiceGraph,
    episodes: Sequence[LabelledEpisode],
    *,
    stride: int = 2,
) -> float | None:
    """AUC of the original objective's distance (z to the healthy-version goal latent) as a
    detector of SLO violation on held-out states (0.5: it does not track the SLO at all)."""
    dist, lab = [], []
    with torch.inference_mode():
        for e in episodes:
            for t in range(0, len(e.transitions), stride):
                d = mesh.decision(graph, e.transitions[t].state)
                dist.append(float((d.z0 - d.goal).square().mean()))
                lab.append(float(e.violated[t]))
    return _auc(np.asarray(dist), np.asarray(lab))


def _auc(score: np.ndarray, label: np.ndarray) -> float | None:
    pos, neg = score[label > 0], score[label <= 0]
    if not len(pos) or not len(neg):
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def model_quality(
    model: WorldModel,
    head: HealthHead,
    graph: ServiceGraph,
    train: Sequence[LabelledEpisode],
    test: Sequence[LabelledEpisode],
    *,
    horizon: int,
    train_faults: Sequence[str] | None = None,
    objectives: dict[str, Callable[[Decision], PlanObjective]] | None = None,
) -> dict[str, Any]:
    """The report's world-model section for ``model`` on ``graph`` (see the module docstring).

    Args:
        train: the episodes the model (and the probe) saw; their (fault, action type) pairs
            define "seen". Must be of ``graph`` (the probe is per service).
        test: held-out episodes of ``graph``.
        train_faults: fault types in the model's training data (default: those in ``train``).
        objectives: planning objectives to rank the true remedy with (:func:`remedy_ranking`).
    """
    mesh = MeshWorldModel(model)
    seen_faults = (
        set(train_faults) if train_faults is not None else {e.fault for e in train if e.fault}
    )
    seen_pairs = {
        (_fault_name(t.faults), t.action.type.value) for e in train for t in e.transitions
    }
    test_ds = TransitionDataset(
        [GraphTransitions.build(graph, [t for e in test for t in e.transitions])]
    )

    def fault_bucket(name: str | None) -> str:
        if name is None:
            return "no_fault"
        return f"{'seen' if name in seen_faults else 'unseen'}:{name}"

    def by_fault(part: GraphTransitions, i: int) -> str:
        return fault_bucket(_fault_name(part.faults[i]))

    def by_pair(part: GraphTransitions, i: int) -> str:
        f = _fault_name(part.faults[i])
        a = ("noop", "restart", "scale_out", "scale_in", "rollback")[int(part.type_ids[i])]
        return f"{'seen' if (f, a) in seen_pairs else 'unseen'}:{f or 'no_fault'}/{a}"

    overall = evaluate(model, test_ds).to_dict()
    buckets = {k: v.to_dict() for k, v in evaluate_buckets(model, test_ds, by_fault).items()}
    pair_rows = evaluate_buckets(model, test_ds, by_pair)
    pairs = {
        "seen": _pool([v.to_dict() for k, v in pair_rows.items() if k.startswith("seen:")]),
        "unseen": _pool([v.to_dict() for k, v in pair_rows.items() if k.startswith("unseen:")]),
        "unseen_pairs": sorted(
            k.removeprefix("unseen:") for k in pair_rows if k.startswith("unseen:")
        ),
    }

    # probe: train latents -> per-service health; scored on encoded and on predicted latents
    z_train = _encode_states(mesh, graph, train)
    h_train = torch.as_tensor(np.concatenate([e.health[:-1] for e in train])).long()
    probe = fit_probe(z_train, h_train)
    z_test = _encode_states(mesh, graph, test)
    h_test = torch.as_tensor(np.concatenate([e.health[:-1] for e in test])).long()
    h_next = torch.as_tensor(np.concatenate([e.health[1:] for e in test])).long()
    space = ActionSpace(graph)
    with torch.inference_mode():
        z_pred = []
        flat = [t for e in test for t in e.transitions]
        for i in range(0, len(flat), 256):
            chunk = flat[i : i + 256]
            acts = torch.tensor([space.index(t.action) for t in chunk])
            z_pred.append(mesh.predict(graph, [t.state for t in chunk], acts)[1])
        z_pred_t = torch.cat(z_pred)  # [T, D]
    names = [fault_bucket(_fault_name(t.faults)) for t in flat]
    probe_rows: dict[str, Any] = {"overall": probe.score(z_test, h_test)}
    for b in sorted(set(names)):
        idx = torch.tensor([i for i, n in enumerate(names) if n == b])
        probe_rows[b] = probe.score(z_test[idx], h_test[idx])
    probe_pred = {"overall": probe.score(z_pred_t, h_next)}

    # the health head on encoded held-out states
    v_test = np.concatenate([e.violated[:-1] for e in test])
    with torch.inference_mode():
        p_slo = head.probabilities(z_test)[0].numpy()
    return {
        "graph": graph.name,
        "test_transitions": len(test_ds),
        "prediction": {"overall": overall, "buckets": buckets, "fault_action": pairs},
        "probe": {"encoded": probe_rows, "predicted_next": probe_pred},
        "health_head": {
            "slo_auc": _auc(p_slo, v_test.astype(float)),
            "slo_brier": round(float(np.mean((p_slo - v_test) ** 2)), 4),
            "rollout_brier": rollout_brier(mesh, head, graph, test, horizon=horizon),
            "base_rate_brier": round(float(v_test.mean() * (1 - v_test.mean())), 4),
        },
        "goal_distance_slo_auc": goal_distance_auc(mesh, graph, test),
        "remedy_ranking": remedy_ranking(mesh, objectives, graph, test, horizon=horizon)
        if objectives
        else {},
    }


def _pool(rows: list[dict[str, float]]) -> dict[str, float] | None:
    """n-weighted pooling of bucket reports' MSEs (ratio recomputed)."""
    n = sum(r["n"] for r in rows)
    if not n:
        return None
    acc: dict[str, float] = defaultdict(float)
    for r in rows:
        for k in ("pred_mse", "copy_mse"):
            acc[k] += r[k] * r["n"] / n
    return {"n": n, **acc, "ratio": acc["pred_mse"] / max(acc["copy_mse"], 1e-12)}
