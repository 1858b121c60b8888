"""Training the control model: the JEPA loss, plus what control needs, on windows and branches.

Two kinds of data (per graph):

* windows of K consecutive transitions of labelled episodes (what the mesh did under the
  behaviour policy), and
* counterfactual branch sets (:mod:`.counterfactual`): at one state, every candidate action's true
  next state and true cost over the value horizon.

The loss of one step (B windows, S branch sets with R candidate rows in all)::

    L =  mean_k ||z_hat_k - z_k||^2 + lambda * SIGReg(z_0, z_1)            the JEPA world model
       + mean_k ||tok_hat_k - tok_k||^2                                    token rollout (windows)
       + ||P(tok_s, a) - tok(s'_a)||^2                                      counterfactual tokens
       + BCE(cost(tok), slo_cost / 2)  on encoded and predicted tokens      step-cost head
       + BCE(value(tok), v / 2T)       on encoded and predicted s'_a        value head
       + rank_weight * mean_set ((Q_hat_a - mean Q_hat) - (Q_a - mean Q))^2 / (2T)^2
       + BCE(service(tok), each service not healthy)                        per-service health

``v = Q - c[a]`` is the branch's cost from ``s'_a`` on (under the branches' continuation),
``Q_hat_a = c[a] + value(P(tok_s, a))``. The ranking term is the counterfactual
term: the predicted DIFFERENCE between acting and not acting at the same state, against the
branched truth, which is what planning compares. Token targets beyond the first step are
encoded without gradients (targets only, as in :mod:`.health_fit`; cheaper). SIGReg stays the
anti-collapse term of z; no EMA target anywhere.

Glossary: B windows, K rollout steps, S branch sets, R candidate rows, N services, F features,
d token width, D latent, T value horizon.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from pydantic import Field

from aither_wm.config import FrozenConfig, TrainConfig
from aither_wm.errors import StateError
from aither_wm.eval.counterfactual import BranchSet
from aither_wm.eval.data import LabelledEpisode
from aither_wm.graph.actions import ActionSpace
from aither_wm.graph.features import GraphBatch, featurize, structure
from aither_wm.graph.schema import ServiceGraph
from aither_wm.models.control_model import ControlModel
from aither_wm.models.world_model import Encoded
from aither_wm.train.dataset import GraphTransitions
from aither_wm.train.fit import lr_at
from aither_wm.train.loss import make_regularizer

__all__ = [
    "BranchTensors",
    "ControlFitConfig",
    "ControlFitReport",
    "encode_states",
    "fit_control_model",
]


class ControlFitConfig(FrozenConfig):
    """Settings of :func:`fit_control_model`."""

    steps: int = Field(default=2000, ge=1)
    """Optimizer steps."""
    batch_windows: int = Field(default=16, ge=2)
    """B: windows of ``rollout_steps`` transitions per step."""
    batch_sets: int = Field(default=8, ge=1)
    """S: branch sets per step (all their candidates)."""
    rollout_steps: int = Field(default=4, ge=1, le=32)
    """K: open-loop steps of each window's latent and token rollout."""
    lr: float = Field(default=2e-3, gt=0)
    """AdamW learning rate (warm-up, then cosine to 10 %)."""
    weight_decay: float = Field(default=1e-4, ge=0)
    """AdamW weight decay."""
    warmup_steps: int = Field(default=30, ge=0)
    """Linear learning-rate warm-up."""
    grad_clip: float = Field(default=1.0, gt=0)
    """Global gradient-norm clip."""
    lam: float = Field(default=0.1, ge=0)
    """lambda: weight of SIGReg on z."""
    num_slices: int = Field(default=128, ge=1)
    """SIGReg random slices per step."""
    rank_weight: float = Field(default=4.0, ge=0)
    """Weight of the counterfactual ranking term."""
    seed: int = 0
    """Seed of window, set and SIGReg sampling."""


@dataclass(frozen=True)
class _Windows:
    """One graph's labelled episodes as tensors (episodes concatenated).

    Attributes:
        part: transitions (x, x_next, actions). [T, ...]
        rows: label row of each transition's state. [T] long
        starts: transitions where a window of K fits in its episode. [W] long
        cost: SLO cost of every state (final ones included). [R] float
        unhealthy: each state's not-healthy services. [R, N] float
    """

    part: GraphTransitions
    rows: torch.Tensor
    starts: torch.Tensor
    cost: torch.Tensor
    unhealthy: torch.Tensor

    @staticmethod
    def build(graph: ServiceGraph, episodes: Sequence[LabelledEpisode], k: int) -> _Windows:
        eps = [e for e in episodes if len(e.transitions) >= k]
        if not eps:
            raise StateError(f"no episode of {graph.name!r} has {k} steps for a rollout window")
        part = GraphTransitions.build(graph, [t for e in eps for t in e.transitions])
        rows, starts, cost, bad, off, ti = [], [], [], [], 0, 0
        for e in eps:
            T = len(e.transitions)
            cost.append(torch.as_tensor(e.slo_cost, dtype=torch.float32))
            bad.append(torch.as_tensor(e.health > 0, dtype=torch.float32))
            rows += [off + t for t in range(T)]
            starts += [ti + t for t in range(T - k + 1)]
            off, ti = off + T + 1, ti + T
        return _Windows(
            part, torch.tensor(rows), torch.tensor(starts), torch.cat(cost), torch.cat(bad)
        )


@dataclass(frozen=True)
class BranchTensors:
    """One graph's branch sets as tensors.

    Attributes:
        x: each set's state. [S, N, F]
        set_of: the set of each candidate row. [R] long
        type_ids, target_ids: each row's action. [R] long
        x_next: the state after each row's action. [R, N, F]
        value: cost from that state on (Q - action cost). [R] float
        first_cost: SLO cost of that state. [R] float
        q: true cost of the candidate over the horizon. [R] float
        action_cost: the candidate's own cost. [R] float
        horizon: T.
    """

    x: torch.Tensor
    set_of: torch.Tensor
    type_ids: torch.Tensor
    target_ids: torch.Tensor
    x_next: torch.Tensor
    value: torch.Tensor
    first_cost: torch.Tensor
    q: torch.Tensor
    action_cost: torch.Tensor
    horizon: int

    @staticmethod
    def build(graph: ServiceGraph, sets: Sequence[BranchSet]) -> BranchTensors:
        if not sets:
            raise StateError(f"no branch sets for {graph.name!r}")
        space = ActionSpace(graph)
        types, targets = space.type_ids(), space.target_ids()
        acts = torch.as_tensor([int(a) for b in sets for a in b.actions])  # [R]
        f64 = torch.float64

        def cat(attr: str) -> torch.Tensor:
            return torch.cat([torch.as_tensor(getattr(b, attr), dtype=f64) for b in sets]).float()

        return BranchTensors(
            x=torch.stack([featurize(graph, b.state)[0] for b in sets]),
            set_of=torch.cat([torch.full((len(b.actions),), i) for i, b in enumerate(sets)]),
            type_ids=types[acts],
            target_ids=targets[acts],
            x_next=torch.stack([featurize(graph, s)[0] for b in sets for s in b.next_states]),
            value=cat("value"),
            first_cost=cat("first_cost"),
            q=cat("q"),
            action_cost=cat("action_cost"),
            horizon=sets[0].horizon,
        )

    @property
    def num_sets(self) -> int:
        return int(self.x.shape[0])

    def rows_of(self, sets: torch.Tensor) -> torch.Tensor:
        """Candidate rows of the given sets, in set order. [S'] -> [R'] long."""
        return torch.nonzero(torch.isin(self.set_of, sets)).flatten()


@dataclass
class ControlFitReport:
    """Outcome of :func:`fit_control_model`.

    Attributes:
        steps, seconds: optimizer steps and wall time.
        windows, branch_rows: training windows and counterfactual rows available.
        final: mean of the last 10 % of steps' loss terms.
        history: per-step total loss.
    """

    steps: int
    seconds: float
    windows: int
    branch_rows: int
    final: dict[str, float]
    history: list[float] = field(default_factory=list)


def encode_states(model: ControlModel, rel: torch.Tensor, x: torch.Tensor) -> Encoded:
    """Encode states of one graph. Shape: rel [N, N]; x [B, N, F] (no padding)."""
    B, N = x.shape[:2]
    return model.encode(
        GraphBatch(x, rel.unsqueeze(0).expand(B, N, N), torch.ones(B, N, dtype=torch.bool))
    )


def _soft_bce(logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logit, target.clamp(0.0, 1.0))


def _window_terms(
    model: ControlModel, w: _Windows, s0: torch.Tensor, cfg: ControlFitConfig, reg: Callable
) -> dict[str, torch.Tensor]:
    """JEPA, token-rollout, cost and health terms on windows starting at ``s0`` [B]."""
    p, K = w.part, cfg.rollout_steps
    B = s0.shape[0]
    idx = s0[:, None] + torch.arange(K)[None, :]  # [B, K]
    e01 = encode_states(model, p.rel, torch.cat([p.x[s0], p.x_next[s0]]))  # 2B rows, with gradients
    z0, z1 = e01.z[:B], e01.z[B:]  # [B, D]
    tok0, tok1 = e01.services[:B], e01.services[B:]  # [B, N, d]
    z_tgt, tok_tgt = [z1[:, None]], [tok1[:, None]]
    if K > 1:
        with torch.no_grad():
            later = encode_states(model, p.rel, p.x_next[idx[:, 1:]].flatten(0, 1))
        z_tgt.append(later.z.view(B, K - 1, -1))  # [B, K - 1, D]
        tok_tgt.append(later.services.view(B, K - 1, *tok0.shape[1:]))  # [B, K - 1, N, d]
    z_target, tok_target = torch.cat(z_tgt, 1), torch.cat(tok_tgt, 1)  # [B, K, D], [B, K, N, d]
    world = model.world
    z_hat, tok_hat, zs, toks = z0, tok0, [], []
    for k in range(K):
        types, targets = p.type_ids[idx[:, k]], p.target_ids[idx[:, k]]  # [B]
        z_hat = world.predict(z_hat, world.embed_action(tok0, types, targets))  # [B, D]
        tok_hat = model.step_tokens(tok_hat, types, targets, p.rel.unsqueeze(0))  # [B, N, d]
        zs.append(z_hat)
        toks.append(tok_hat)
    z_pred, tok_pred = torch.stack(zs, 1), torch.stack(toks, 1)  # [B, K, D], [B, K, N, d]
    rows = w.rows[s0][:, None] + torch.arange(K + 1)[None, :]  # [B, K + 1] label rows
    cost = w.cost[rows] / 2.0  # [B, K + 1]
    heads = model.heads
    return {
        "jepa": F.mse_loss(z_pred, z_target),
        "sigreg": 0.5 * (reg(z0) + reg(z1)),
        "tokens": F.mse_loss(tok_pred, tok_target),
        "cost": 0.5
        * (
            _soft_bce(heads.cost_logit(torch.stack([tok0, tok1], 1)), cost[:, :2])
            + _soft_bce(heads.cost_logit(tok_pred), cost[:, 1:])
        ),
        "health": F.binary_cross_entropy_with_logits(
            heads.service_logits(e01.services), w.unhealthy[torch.cat([w.rows[s0], w.rows[s0] + 1])]
        ),
    }


def _branch_terms(
    model: ControlModel, b: BranchTensors, rel: torch.Tensor, sets: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Counterfactual token, value, cost and ranking terms on branch sets ``sets`` [S]."""
    rows = b.rows_of(sets)  # [R]
    local = torch.searchsorted(sets, b.set_of[rows])  # [R] position of each row's set in ``sets``
    enc_s = encode_states(model, rel, b.x[sets])  # [S] states
    enc_n = encode_states(model, rel, b.x_next[rows])  # [R] next states
    tok_s = enc_s.services[local]  # [R, N, d]
    tok_hat = model.step_tokens(tok_s, b.type_ids[rows], b.target_ids[rows], rel.unsqueeze(0))
    T2 = 2.0 * b.horizon
    v, c = b.value[rows] / T2, b.first_cost[rows] / 2.0  # [R]
    heads = model.heads
    v_hat_logit = heads.value_logit(tok_hat)  # [R]
    q_hat = b.action_cost[rows] / T2 + torch.sigmoid(v_hat_logit)  # [R], in units of 2T
    q = b.q[rows] / T2
    S = sets.shape[0]
    n = torch.zeros(S).index_add_(0, local, torch.ones_like(q))  # [S]
    centred_hat = q_hat - (torch.zeros(S).index_add_(0, local, q_hat) / n)[local]  # [R]
    centred = q - (torch.zeros(S).index_add_(0, local, q) / n)[local]  # [R]
    return {
        "cf_tokens": F.mse_loss(tok_hat, enc_n.services),
        "value": 0.5
        * (_soft_bce(v_hat_logit, v) + _soft_bce(heads.value_logit(enc_n.services), v)),
        "cf_cost": 0.5
        * (
            _soft_bce(heads.cost_logit(tok_hat), c) + _soft_bce(heads.cost_logit(enc_n.services), c)
        ),
        "rank": F.mse_loss(centred_hat, centred),
    }


def fit_control_model(
    model: ControlModel,
    episodes: Mapping[ServiceGraph, Sequence[LabelledEpisode]],
    branches: Mapping[ServiceGraph, Sequence[BranchSet]],
    config: ControlFitConfig | None = None,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> ControlFitReport:
    """Train ``model`` in place (see the module docstring).

    Each step draws windows from one graph and branch sets from one graph, each in proportion
    to its data.
    """
    cfg = config or ControlFitConfig()
    wins = {g: _Windows.build(g, eps, cfg.rollout_steps) for g, eps in episodes.items()}
    # a graph needs two sets for a batch (the projector's batch norm); fewer: windows only
    brs = {g: BranchTensors.build(g, sets) for g, sets in branches.items() if len(sets) >= 2}
    rels = {g: structure(g)[1].long() for g in {*wins, *brs}}
    wg, bg = list(wins), list(brs)
    w_sizes = torch.tensor([float(wins[g].starts.numel()) for g in wg])
    b_sizes = torch.tensor([float(brs[g].num_sets) for g in bg]) if bg else None
    reg = make_regularizer(TrainConfig(num_slices=cfg.num_slices, seed=cfg.seed))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    model.train()
    history: list[float] = []
    terms_log: list[dict[str, float]] = []
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        g = wg[int(torch.multinomial(w_sizes, 1, generator=gen))]
        w = wins[g]
        s0 = w.starts[torch.randint(0, w.starts.numel(), (cfg.batch_windows,), generator=gen)]
        terms = _window_terms(model, w, s0, cfg, reg)
        if b_sizes is not None:
            h = bg[int(torch.multinomial(b_sizes, 1, generator=gen))]
            b = brs[h]
            n = min(cfg.batch_sets, b.num_sets)
            sets = torch.randperm(b.num_sets, generator=gen)[:n].sort().values  # [S]
            terms.update(_branch_terms(model, b, rels[h], sets))
        total = sum(
            (cfg.lam if k == "sigreg" else cfg.rank_weight if k == "rank" else 1.0) * v
            for k, v in terms.items()
        )
        assert isinstance(total, torch.Tensor)
        if not torch.isfinite(total):
            raise StateError(
                f"control model training diverged at step {step} (loss {total.item()})"
            )
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        history.append(total.item())
        terms_log.append({k: v.item() for k, v in terms.items()})
        if progress is not None:
            progress(step, history[-1])
    model.eval()
    tail = terms_log[-max(1, len(terms_log) // 10) :]
    final = {k: sum(r[k] for r in tail) / len(tail) for k in tail[0]}
    final["total"] = sum(history[-len(tail) :]) / len(tail)
    return ControlFitReport(
        steps=cfg.steps,
        seconds=time.perf_counter() - t0,
        windows=int(w_sizes.sum()),
        branch_rows=sum(int(b.set_of.numel()) for b in brs.values()),
        final=final,
        history=history,
    )
