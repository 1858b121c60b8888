"""Monte Carlo tree search in latent space, with a Gumbel-style top-m root.

One decision (:meth:`MCTSPlanner.plan`):

1. Root: every valid action is stepped from ``z0`` in ONE batched call. Each root child gets a
   value, and the ``top_m`` children by min-max normalised value plus seeded Gumbel noise
   (``gumbel_scale``) are the only ones searched (Gumbel MuZero's top-m root, PUCT restricted to
   them).
2. Simulations descend by PUCT, ``Q_norm + c_puct * P(a) * sqrt(N(s)) / (1 + N(s, a))``, with
   ``Q`` min-max normalised over every value seen in the tree and unvisited children valued at
   their parent's own value. ``Q(s, a)`` is the best value found below the edge
   (``backup="max"``, the default: the model is deterministic, so one bad exploratory branch
   should not drag a good action down; it measured 2-3x lower regret than the mean) or the mean
   (``backup="mean"``, MuZero's). With no learned policy, the prior ``P`` over valid actions is a
   softmax of the normalised one-step root values (``prior_temperature``): actions that help from
   ``z0`` are tried first deeper down too. Masks hold at every depth (the same mask).
3. ``leaf_batch`` simulations are selected at a time. Each adds ``virtual_loss`` visits along its
   path (with the mean backup, visits at the lowest value seen) and a new leaf counts as the
   lowest value until stepped, so the next selections spread out; the new leaves are stepped in
   one batched call, then every path is backed up.
4. Values: a node at depth d with path cost ``g`` (the objective's terms for its first d steps)
   is worth ``-(g + (w_d + ... + w_{H-1}) * dist(z_d))``: the cost of staying where it is for the
   rest of the horizon. At depth H this is exactly minus the objective's cost of the path.
5. The first action is the searched root child with the most visits (ties by value). The
   sequence is the best complete path (depth H, exact value) found below it; when there is none,
   it follows the best-valued children (ties by visits) and is completed greedily (one batched
   call per missing step). Its cost is the shared objective's.

The tree lives in preallocated arrays: node latents [M, D] (torch), and per node depth, parent,
path cost, value, visit count, plus per-edge tables [M, Kv] (child index, visit count, value sum,
best value).

Glossary: D latent size, K flat actions, Kv valid actions, H horizon, M tree nodes.
"""

from __future__ import annotations

import math
import time
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from aither_wm.errors import PlanningError
from aither_wm.planning.objective import PlanObjective, check_problem
from aither_wm.planning.result import PlanResult, deadline_at, finish_plan
from aither_wm.types import LatentDynamics

__all__ = ["MCTSConfig", "MCTSPlanner"]


class MCTSConfig(BaseModel):
    """Settings of :class:`MCTSPlanner`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_simulations: int = Field(default=200, ge=1)
    """Simulations per decision (the root evaluation is not counted)."""
    horizon: int = Field(default=3, ge=1, le=32)
    """H, depth of the tree."""
    top_m: int = Field(default=16, ge=1)
    """Root children searched, picked by normalised value plus Gumbel noise."""
    gumbel_scale: float = Field(default=0.2, ge=0.0)
    """Scale of the Gumbel noise added to the normalised root values (in [0, 1]) to pick the top
    m; 0 picks the m best deterministically."""
    c_puct: float = Field(default=1.25, gt=0.0)
    """Weight of the exploration term."""
    backup: Literal["max", "mean"] = "max"
    """Q(s, a): the best value found below the edge, or the mean of the values backed up."""
    prior_temperature: float = Field(default=1.0, gt=0.0)
    """Temperature of the softmax over normalised one-step root values used as the prior."""
    leaf_batch: int = Field(default=16, ge=1)
    """Simulations selected before their leaves are stepped in one batched call."""
    virtual_loss: float = Field(default=1.0, ge=0.0)
    """Pessimistic visits added along a selected path until its leaf is backed up."""
    deadline_ms: float | None = Field(default=None, gt=0.0)
    """Wall-time budget per decision; the tree so far decides when it runs out (the root and
    one leaf batch always run). ``plan(deadline_ms=...)`` overrides it."""


class _Tree:
    """Array-backed search tree for one decision (numpy bookkeeping, torch latents).

    Per-node arrays have M entries; the per-edge arrays [R, Kv] have a row only for nodes that
    have children (the root and the nodes a simulation descended through, R <= 1 + simulations),
    allocated on first use by :meth:`row`: the root's Kv children are all leaves at first, and
    dense [M, Kv] edge arrays would be (1 + Kv + simulations) x Kv entries, 8.4M each on a
    1,000-service mesh.
    """

    def __init__(
        self, max_nodes: int, max_parents: int, num_valid: int, latents: torch.Tensor
    ) -> None:
        M, R, Kv = max_nodes, max_parents, num_valid
        self.latents = latents  # [M, D]
        self.depth = np.zeros(M, dtype=np.int64)
        self.parent = np.full(M, -1, dtype=np.int64)
        self.action = np.full(M, -1, dtype=np.int64)  # valid-action index of the incoming edge
        self.branch = np.full(M, -1, dtype=np.int64)  # the depth-1 ancestor (root child)
        self.path_cost = np.zeros(M)  # g, objective terms of the path from the root
        self.value = np.zeros(M)  # -(g + remaining weight * distance)
        self.visits = np.zeros(M)  # N(s), virtual visits included while pending
        self.pending = np.zeros(M, dtype=bool)  # created, latent not yet computed
        self.erow = np.full(M, -1, dtype=np.int64)  # node -> its row in the edge arrays
        self.children = np.full((R, Kv), -1, dtype=np.int64)  # [R, Kv]
        self.edge_visits = np.zeros((R, Kv))  # N(s, a)  [R, Kv]
        self.edge_value = np.zeros((R, Kv))  # W(s, a), sum of values backed up  [R, Kv]
        self.edge_best = np.full((R, Kv), -np.inf)  # best value backed up  [R, Kv]
        self.edge_q = np.zeros((R, Kv))  # Q(s, a) read by PUCT (first-play value if unvisited)
        self.size = self.rows = 0

    def row(self, node: int) -> int:
        """The edge-array row of ``node``, allocated on first use with its children's first-play
        value (the node's own value) in ``edge_q``."""
        r = int(self.erow[node])
        if r < 0:
            r, self.rows = self.rows, self.rows + 1
            self.erow[node] = r
            self.edge_q[r] = self.value[node]
        return r

    def add(self, parent: int, action: int) -> int:
        node = self.size
        self.size += 1
        self.parent[node], self.action[node] = parent, action
        self.depth[node] = self.depth[parent] + 1 if parent >= 0 else 0
        if parent >= 0:
            self.children[self.row(parent), action] = node
            self.branch[node] = self.branch[parent] if parent > 0 else node
        return node


class MCTSPlanner:
    """MCTS planner (see the module docstring). Stateless between decisions; same seed, same
    plan, bit for bit."""

    name = "mcts"

    def __init__(self, config: MCTSConfig | None = None) -> None:
        self.config = config or MCTSConfig()

    def reset(self) -> None:
        """Nothing is carried between decisions."""

    def plan(
        self,
        dynamics: LatentDynamics,
        z0: torch.Tensor,
        objective: PlanObjective,
        mask: torch.Tensor,
        *,
        seed: int,
        deadline_ms: float | None = None,
    ) -> PlanResult:
        """Plan one decision.

        Shape: z0 [D] float; mask [K] bool (True = valid).
        """
        started = time.perf_counter()
        cfg = self.config
        H = cfg.horizon
        valid = check_problem(dynamics, z0, objective, mask, H)  # [Kv]
        deadline = deadline_at(started, cfg.deadline_ms if deadline_ms is None else deadline_ms)
        with torch.inference_mode():
            search = _Search(dynamics, z0, objective, valid, cfg, seed)
            sims, hit_deadline = search.run(deadline)
            seq, latents = search.best_sequence()  # [H] valid indices, [H, D]
            return finish_plan(
                dynamics,
                z0,
                objective,
                valid[torch.as_tensor(seq, dtype=torch.long)],
                planner=self.name,
                rows_evaluated=search.rows,
                iterations=sims,
                started_s=started,
                hit_deadline=hit_deadline,
                latents=latents,
            )


class _Search:
    """One decision's search state."""

    def __init__(
        self,
        dynamics: LatentDynamics,
        z0: torch.Tensor,
        objective: PlanObjective,
        valid: torch.Tensor,
        cfg: MCTSConfig,
        seed: int,
    ) -> None:
        self.dynamics, self.objective, self.valid, self.cfg = dynamics, objective, valid, cfg
        H, Kv = cfg.horizon, valid.shape[0]
        w = objective.weights(H).double().cpu().numpy()  # [H]
        self.w = w
        self.remaining = np.append(np.cumsum(w[::-1])[::-1], 0.0)  # [H + 1], sum of w[d:]
        self.action_cost = objective.action_cost[valid].double().cpu().numpy()  # [Kv]
        gen = torch.Generator().manual_seed(int(seed))

        # Root: one batched step of every valid action.
        z1 = dynamics.step(z0.expand(Kv, -1), valid)  # [Kv, D]
        self.rows = Kv
        M = 1 + Kv + cfg.num_simulations
        latents = torch.empty(M, z1.shape[1], dtype=z1.dtype, device=z1.device)  # [M, D]
        t = self.tree = _Tree(M, 1 + cfg.num_simulations, Kv, latents)
        root = t.add(-1, -1)
        latents[root] = z0.to(z1.dtype)
        d0 = float(objective.distance(z0))
        t.value[root] = -self.remaining[0] * d0
        kids = np.arange(1, 1 + Kv)
        t.size = 1 + Kv
        t.depth[kids], t.parent[kids], t.action[kids], t.branch[kids] = 1, root, np.arange(Kv), kids
        t.children[t.row(root)] = kids
        latents[1 : 1 + Kv] = z1
        self._set_values(kids, objective.distance(z1).double().cpu().numpy(), np.arange(Kv), z1)
        t.visits[kids] = 1.0
        t.visits[root] = float(Kv)
        r0 = int(t.erow[root])
        t.edge_visits[r0] = 1.0
        t.edge_value[r0] = t.value[kids]
        t.edge_best[r0] = t.value[kids]
        t.edge_q[r0] = t.value[kids]
        finite = np.isfinite(t.value[kids])  # [Kv]
        if not finite.any():
            raise PlanningError(
                "mcts: every action's predicted one-step cost is non-finite: the model is unusable"
            )
        seen = t.value[: 1 + Kv][np.isfinite(t.value[: 1 + Kv])]  # root and finite children
        self.vmin, self.vmax = float(seen.min()), float(seen.max())

        # Prior over valid actions and the searched root children (non-finite ones rank last):
        # each child's value, or, when the objective has a prior distance (a terminal value),
        # minus its action cost plus that prior distance, min-max normalised
        pd = objective.prior_distance(z1)  # [Kv] or None
        if pd is None:
            qn = np.where(finite, self._normalise(t.value[kids]), 0.0)  # [Kv]
        else:
            pv = -(self.action_cost + pd.double().cpu().numpy())  # [Kv]
            ok = finite & np.isfinite(pv)
            lo, hi = (float(pv[ok].min()), float(pv[ok].max())) if ok.any() else (0.0, 0.0)
            qn = np.where(ok, (pv - lo) / (hi - lo) if hi > lo else 0.0, 0.0)  # [Kv]
        logits = qn / cfg.prior_temperature
        prior = np.exp(logits - logits.max())
        prior /= prior.sum()
        self.c_prior = cfg.c_puct * prior  # [Kv]
        u = torch.rand(Kv, generator=gen, dtype=torch.float64).clamp_(1e-12, 1.0 - 1e-12)
        gumbel = (-torch.log(-torch.log(u))).numpy()  # [Kv]
        score = qn + cfg.gumbel_scale * gumbel
        m = min(cfg.top_m, Kv)
        self.root_cands = np.argsort(-score, kind="stable")[:m]  # [m] valid indices
        p = prior[self.root_cands]
        self.c_prior_root = cfg.c_puct * p / p.sum()  # [m]

    def _normalise(self, values: np.ndarray) -> np.ndarray:
        span = self.vmax - self.vmin
        with np.errstate(invalid="ignore"):  # a non-finite value stays non-finite
            return (values - self.vmin) / span if span > 0 else np.zeros_like(values)

    def _set_values(
        self, nodes: np.ndarray, dist: np.ndarray, acts: np.ndarray, z: torch.Tensor
    ) -> None:
        """Path cost and value of freshly stepped nodes (latents ``z``) from their distance.

        The rest of the horizon is "stay where it is" (``remaining * dist``), or, when the
        objective has a prior distance (a value: the cost from a state on, the state's own step
        included), that value less the step already counted (exact at depth H, where it is 0).
        """
        t = self.tree
        d = t.depth[nodes]
        pd = self.objective.prior_distance(z)  # [b] or None
        # a non-finite distance (the model predicted garbage for this action) makes the node
        # worthless: cost +inf, value -inf, never preferred while anything finite is left
        with np.errstate(invalid="ignore", over="ignore"):
            cost = t.path_cost[t.parent[nodes]] + self.w[d - 1] * dist + self.action_cost[acts]
            if pd is None:
                rest = self.remaining[d] * dist
            else:
                rest = np.where(d < self.cfg.horizon, pd.double().cpu().numpy() - dist, 0.0)
            value = -(cost + rest)
        ok = np.isfinite(value)
        t.path_cost[nodes] = np.where(ok, cost, np.inf)
        t.value[nodes] = np.where(ok, value, -np.inf)

    def _select(self) -> tuple[list[int], list[int], bool]:
        """Descend from the root; return the path's nodes, its edge actions, and whether its last
        node is new (to be stepped). Adds virtual loss along the path."""
        t, cfg = self.tree, self.cfg
        span = self.vmax - self.vmin
        # argmax of Q_norm + u equals argmax of Q + span * u (Q_norm = (Q - vmin) / span)
        scale = span if span > 0 else 1.0
        node, nodes, acts = 0, [0], []
        is_new = False
        while True:
            r = t.row(node)  # the root's is 0
            if node == 0:
                cands = self.root_cands
                n, q, c_prior = t.edge_visits[r, cands], t.edge_q[r, cands], self.c_prior_root
            else:
                n, q, c_prior = t.edge_visits[r], t.edge_q[r], self.c_prior
            score = q + (scale * math.sqrt(t.visits[node])) * (c_prior / (1.0 + n))
            j = int(score.argmax())
            a = int(cands[j]) if node == 0 else j
            child = int(t.children[r, a])
            acts.append(a)
            if child < 0:
                child = t.add(node, a)
                t.pending[child] = True
                t.edge_q[r, a] = self.vmin  # pessimistic until stepped
                is_new = True
            nodes.append(child)
            if is_new or t.pending[child] or t.depth[child] >= cfg.horizon:
                break
            node = child
        vl = cfg.virtual_loss
        if vl > 0:
            use_mean = cfg.backup == "mean"
            for i, a in enumerate(acts):
                t.visits[nodes[i]] += vl
                p = int(t.erow[nodes[i]])
                t.edge_visits[p, a] += vl
                t.edge_value[p, a] += vl * self.vmin
                if use_mean:
                    t.edge_q[p, a] = t.edge_value[p, a] / t.edge_visits[p, a]
            t.visits[nodes[-1]] += vl
        return nodes, acts, is_new

    def run(self, deadline_s: float | None) -> tuple[int, bool]:
        """Run the simulations; return how many ran and whether the deadline stopped them."""
        cfg, t = self.cfg, self.tree
        use_mean, vl = cfg.backup == "mean", cfg.virtual_loss
        done = 0
        while done < cfg.num_simulations:
            batch = min(cfg.leaf_batch, cfg.num_simulations - done)
            vmin_at = self.vmin
            paths = [self._select() for _ in range(batch)]
            new = np.asarray([p[0][-1] for p in paths if p[2]], dtype=np.int64)  # [b]
            if new.size:
                parents, acts = t.parent[new], t.action[new]
                new_t = torch.from_numpy(new)
                z = self.dynamics.step(t.latents[torch.from_numpy(parents)], self.valid[acts])
                t.latents[new_t] = z.to(t.latents.dtype)  # [b, D]
                self.rows += int(new.size)
                self._set_values(new, self.objective.distance(z).double().cpu().numpy(), acts, z)
                t.pending[new] = False
                t.edge_q[t.erow[parents], acts] = t.value[new]
                fresh = t.value[new][np.isfinite(t.value[new])]  # -inf nodes do not stretch Q
                if fresh.size:
                    self.vmin = min(self.vmin, float(fresh.min()))
                    self.vmax = max(self.vmax, float(fresh.max()))
            for nodes, path_acts, _ in paths:
                v = float(t.value[nodes[-1]])
                for i, a in enumerate(path_acts):
                    t.visits[nodes[i]] += 1.0 - vl
                    p = int(t.erow[nodes[i]])
                    n = t.edge_visits[p, a] = t.edge_visits[p, a] + 1.0 - vl
                    w = t.edge_value[p, a] = t.edge_value[p, a] + v - vl * vmin_at
                    if v > t.edge_best[p, a]:
                        t.edge_best[p, a] = v
                    t.edge_q[p, a] = w / n if use_mean else t.edge_best[p, a]
                t.visits[nodes[-1]] += 1.0 - vl
            done += batch
            if deadline_s is not None and time.perf_counter() >= deadline_s:
                return done, done < cfg.num_simulations
        return done, False

    def _q(self, node: int, cands: np.ndarray) -> np.ndarray:
        t, r = self.tree, int(self.tree.erow[node])
        if self.cfg.backup == "max":
            return t.edge_best[r, cands]
        return t.edge_value[r, cands] / np.maximum(t.edge_visits[r, cands], 1e-12)

    def _best_child(self, node: int, cands: np.ndarray, *, by_visits: bool) -> int:
        """Child action among ``cands`` with the most visits then the best value (``by_visits``),
        or the best value then the most visits; remaining ties go to the first candidate."""
        n, q = self.tree.edge_visits[self.tree.erow[node], cands], self._q(node, cands)
        keys = (np.arange(len(cands)), -q, -n) if by_visits else (np.arange(len(cands)), -n, -q)
        return int(cands[np.lexsort(keys)[0]])

    def best_sequence(self) -> tuple[list[int], torch.Tensor]:
        """The chosen sequence, in valid-action indices, completed greedily to length H, with
        its latents as the search computed them. Shape: returns ([H], [H, D])."""
        t, H = self.tree, self.cfg.horizon
        a = self._best_child(0, self.root_cands, by_visits=True)
        first = int(t.children[t.erow[0], a])
        n = t.size
        complete = np.flatnonzero((t.depth[:n] == H) & (t.branch[:n] == first))
        if complete.size:  # best complete path below the first action, read leaf to root
            node, path = int(complete[np.argmax(t.value[complete])]), []
            while node > 0:
                path.append(node)
                node = int(t.parent[node])
            path.reverse()
            return [int(t.action[v]) for v in path], t.latents[torch.tensor(path)]
        seq, path, node = [a], [first], first
        while t.depth[node] < H and t.erow[node] >= 0:  # no row: no children
            expanded = np.flatnonzero(t.children[t.erow[node]] >= 0)
            if expanded.size == 0:
                break
            a = self._best_child(node, expanded, by_visits=False)
            seq.append(a)
            node = int(t.children[t.erow[node], a])
            path.append(node)
        latents = list(t.latents[torch.tensor(path)])  # [D] each
        z = latents[-1]
        Kv = self.valid.shape[0]
        for d in range(len(seq), H):
            zs = self.dynamics.step(z.expand(Kv, -1), self.valid)  # [Kv, D]
            self.rows += Kv
            dist = self.objective.distance(zs).double().cpu().numpy()  # [Kv]
            total = (self.w[d] + self.remaining[d + 1]) * dist + self.action_cost
            a = int(np.argmin(total))
            seq.append(a)
            z = zs[a]
            latents.append(z)
        return seq, torch.stack(latents)
