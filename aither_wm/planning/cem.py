"""Categorical cross-entropy method over the flat, masked action space.

One decision (:meth:`CEMPlanner.plan`):

1. Root cache: ONE batched ``dynamics.step`` of every valid action from ``z0``; every iteration
   gathers its step-1 latents from it instead of recomputing them.
2. A probability table [H, Kv] over the Kv valid actions: uniform mixed with a prior from the root
   cache (a softmax of each action's one-step cost, ``root_prior_weight``), or, when
   warm-starting, the previous decision's table shifted one step mixed with that. Masked actions
   are not in the table, so they are never sampled at any step; the same mask applies to every
   horizon step (the mask of the current state; a later state may allow other actions, the
   planner does not guess which).
3. Each iteration samples S sequences with a seeded ``torch.Generator``, rolls them
   out with one batched ``dynamics.step`` per remaining horizon step (each distinct action prefix
   is stepped once per decision: sequences sharing a prefix share its latent, and prefixes met in
   an earlier iteration come from a cache; the new prefixes of all lengths get their goal
   distances in one call), scores them with the shared objective,
   keeps the E best (the best ``carried_elites`` of them join the next iteration unscored again),
   and refits the table: ``p <- momentum * p + (1 - momentum) * elite frequencies``, then
   ``p <- (1 - smoothing) * p + smoothing / Kv``.
4. The best sequence seen is returned with the latents its rollout cached (no model call) and
   its cost under the shared objective.

:func:`cem_plan_loop` runs the same search with one ``dynamics.step`` per sample per step (a slow
reference for tests and the batched speed-up benchmark): same draws, same optimum.

Latents, distances and draws are torch; the integer bookkeeping around them (prefix codes and
lookups, elites, frequency counts) and the table refit are numpy: on a few hundred numbers a
numpy operation costs about a microsecond, a torch call several, and a decision makes a few
hundred of them (docs/planning.md has the measurements). Planning runs on CPU tensors.

Glossary: D latent size, K flat actions, Kv valid actions, H horizon, S samples, E elites,
U distinct prefixes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from aither_wm.errors import PlanningError
from aither_wm.planning.objective import PlanObjective, check_problem
from aither_wm.planning.result import PlanResult, deadline_at, finish_plan
from aither_wm.types import LatentDynamics

__all__ = ["CEMConfig", "CEMPlanner", "cem_plan_loop"]


class CEMConfig(BaseModel):
    """Settings of :class:`CEMPlanner`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon: int = Field(default=3, ge=1, le=32)
    """H, actions per sequence."""
    num_samples: int = Field(default=300, ge=1)
    """S, sequences scored per iteration (carried elites included)."""
    num_elites: int = Field(default=30, ge=1)
    """E, best sequences the table is refit to each iteration."""
    iterations: int = Field(default=3, ge=1)
    """Sample-score-refit rounds per decision."""
    momentum: float = Field(default=0.1, ge=0.0, lt=1.0)
    """Weight of the previous table when refitting (0 = elite frequencies only)."""
    smoothing: float = Field(default=0.01, ge=0.0, le=1.0)
    """Mass spread uniformly over valid actions after each refit, so none reaches 0."""
    carried_elites: int = Field(default=3, ge=0)
    """Best sequences kept into the next iteration without being scored again."""
    use_warm_start: bool = True
    """Start from the previous decision's table shifted one step (and its best plan, shifted)."""
    warm_start_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    """Weight of the shifted table in the first table of a warm start; the rest is the cold-start
    table (uniform mixed with the root prior)."""
    root_prior_weight: float = Field(default=0.8, ge=0.0, le=1.0)
    """Weight, in the first table of every step, of a prior from the root cache: a softmax of the
    one-step costs of the valid actions, min-max normalised to [0, 1] and divided by
    ``root_prior_temperature`` (actions that help from z0 are tried first, at every step, as in
    MCTS's prior). 0 = the uniform table. The default 0.8 (temperature 0.1) measured lower regret
    than the uniform table on the trained socialnetwork model (0.0003 vs 0.0100) and on the random
    MLP problems whose optimum is a two-step fix (0.0019 vs 0.0051), with 43% fewer rows; more
    weight stepped fewer rows still but missed more two-step fixes (docs/planning.md)."""
    root_prior_temperature: float = Field(default=0.1, gt=0.0)
    """Temperature of the root prior (lower = more peaked on the best one-step actions)."""
    use_prefix_sharing: bool = True
    """Step each distinct action prefix once per decision (exact; faster once the table peaks)."""
    deadline_ms: float | None = Field(default=None, gt=0.0)
    """Wall-time budget per decision; the best plan so far is returned when it runs out (one
    iteration always completes). ``plan(deadline_ms=...)`` overrides it."""

    @model_validator(mode="after")
    def _check_counts(self) -> CEMConfig:
        if self.num_elites > self.num_samples:
            raise ValueError(f"num_elites ({self.num_elites}) > num_samples ({self.num_samples})")
        if self.carried_elites > self.num_elites or self.carried_elites >= self.num_samples:
            raise ValueError(
                f"carried_elites ({self.carried_elites}) must be <= num_elites and < num_samples"
            )
        return self


@dataclass(frozen=True)
class _WarmStart:
    """What a decision leaves to the next: the final table and best plan, in flat indices."""

    probs: torch.Tensor  # [H, K]
    best: torch.Tensor  # [H] long


@dataclass(frozen=True)
class _SearchOut:
    best: np.ndarray  # [H] int64, indices into the valid actions
    probs: np.ndarray  # [H, Kv] float32, the final table
    iterations: int
    hit_deadline: bool


#: Scores sequences of valid-action indices [S, H] (numpy int64) -> costs [S] (numpy float32).
_Evaluator = Callable[[np.ndarray], np.ndarray]
#: The latents [H, D] a scorer computed for one scored sequence [H] (valid indices), or None
#: when it does not keep them.
_LatentLookup = Callable[[np.ndarray], torch.Tensor | None]


def _search(
    score: _Evaluator,
    *,
    table: np.ndarray,
    seeds: np.ndarray | None,
    config: CEMConfig,
    generator: torch.Generator,
    deadline_s: float | None,
) -> _SearchOut:
    """The CEM loop, shared by the batched planner and the per-sample reference.

    Draws come from ``torch.multinomial`` with the decision's generator; the integer bookkeeping
    (elites, frequencies) and the table refit run in numpy on the same float32 values, which
    costs a fraction of a torch call per operation on a few hundred numbers (the arithmetic is
    the same, so the tables and the draws are too).

    Shape: table [H, Kv] float32 (rows sum to 1); seeds [C0, H] int64 or None, sequences scored
    in the first iteration in place of the last C0 samples.
    """
    H, Kv = table.shape
    S, E, C = config.num_samples, config.num_elites, config.carried_elites
    m, keep = np.float32(config.momentum), np.float32(1.0 - config.momentum)
    smooth_keep = np.float32(1.0 - config.smoothing)
    smooth_add = np.float32(config.smoothing / Kv)
    carried = np.empty((0, H), dtype=np.int64)  # [C, H]
    carried_cost = np.empty(0, dtype=np.float32)  # [C]
    best, best_cost = None, float("inf")
    it, hit_deadline = 0, False
    for it in range(1, config.iterations + 1):
        n_new = S - carried.shape[0]
        probs = torch.from_numpy(table)  # [H, Kv], shares memory with ``table``
        idx = torch.multinomial(probs, n_new, replacement=True, generator=generator)  # [H, S']
        samples = idx.numpy().T  # [S', H] (a view)
        if seeds is not None and it == 1:
            samples[n_new - seeds.shape[0] :] = seeds[:n_new]
        cost = score(np.ascontiguousarray(samples))  # [S'] float32
        pop = np.concatenate([carried, samples])  # [S, H]
        pop_cost = np.concatenate([carried_cost, cost])  # [S]
        order = np.argsort(pop_cost, kind="stable")[: min(E, pop.shape[0])]  # [E], NaN last
        elites = pop[order]  # [E, H]
        if pop_cost[order[0]] < best_cost:  # False for NaN
            best, best_cost = elites[0].copy(), float(pop_cost[order[0]])
        n_el = np.float32(elites.shape[0])
        freq = np.stack([np.bincount(elites[:, h], minlength=Kv) for h in range(H)])  # [H, Kv]
        table = m * table + keep * (freq.astype(np.float32) / n_el)
        table = smooth_keep * table + smooth_add
        carried, carried_cost = elites[:C], pop_cost[order[:C]]
        if deadline_s is not None and it < config.iterations and time.perf_counter() >= deadline_s:
            hit_deadline = True
            break
    if best is None:  # every cost was NaN or infinite: the model predicts garbage
        raise PlanningError(
            "every sampled sequence has a non-finite predicted cost: the model is unusable"
        )
    return _SearchOut(best=best, probs=table, iterations=it, hit_deadline=hit_deadline)


class _RowCounter:
    def __init__(self) -> None:
        self.rows = 0


#: Code tables up to this many entries are dense (one gather per lookup); larger ones are
#: sorted code lists (a binary search per lookup). A dense table is parents x Kv entries to
#: allocate and fill every decision: 6.7k and 74k at the defaults on socialnetwork (Kv about
#: 82), 7.9M on a 1,000-service mesh (Kv about 2,800), where filling it would cost more than
#: the search.
DENSE_CODES_MAX = 1 << 18


class _DenseCodes:
    """Code -> row map as a dense table (-1 = absent). Shape: table [capacity] int32."""

    def __init__(self, capacity: int) -> None:
        self.table = np.full(capacity, -1, dtype=np.int32)

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        return self.table[codes]

    def insert(self, codes: np.ndarray, rows: np.ndarray) -> None:
        self.table[codes] = rows


class _SortedCodes:
    """Code -> row map as sorted codes with their rows. Shape: codes, rows [U] int64."""

    def __init__(self) -> None:
        self.codes = np.empty(0, dtype=np.int64)
        self.rows = np.empty(0, dtype=np.int64)

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        if self.codes.shape[0] == 0:
            return np.full(codes.shape[0], -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.codes, codes), self.codes.shape[0] - 1)
        return np.where(self.codes[pos] == codes, self.rows[pos], -1)

    def insert(self, codes: np.ndarray, rows: np.ndarray) -> None:
        merged = np.concatenate([self.codes, codes])
        order = np.argsort(merged, kind="stable")
        self.codes, self.rows = merged[order], np.concatenate([self.rows, rows])[order]


class _PrefixCache:
    """Code -> row map of every action prefix of one length stepped so far in a decision.

    A prefix of length h + 1 is its parent prefix (a row of the cache one level up, or a root
    row) plus one action, so it has the code ``parent_row * Kv + action``; a code map (dense or
    sorted, see :data:`DENSE_CODES_MAX`) gives its row, numbered in insertion order, and
    ``arena_rows`` where its latent lives in the decision's :class:`_Arena`.
    Shape: arena_rows [capacity] int64.
    """

    def __init__(self, num_parents: int, num_valid: int, capacity: int) -> None:
        n_codes = num_parents * num_valid
        self.codes = _DenseCodes(n_codes) if n_codes <= DENSE_CODES_MAX else _SortedCodes()
        self.arena_rows = np.empty(capacity, dtype=np.int64)
        self.size = 0

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Rows [S] of ``codes`` [S], -1 where a prefix was never stepped."""
        return self.codes.lookup(codes)

    def add(self, codes: np.ndarray, arena_rows: np.ndarray) -> None:
        """Store distinct new codes [U'] whose latents are at ``arena_rows`` [U']."""
        n, m = self.size, codes.shape[0]
        self.arena_rows[n : n + m] = arena_rows
        self.codes.insert(codes, np.arange(n, n + m))
        self.size = n + m


class _Arena:
    """The latents, and their goal distances, of every prefix longer than one action stepped in
    a decision, all lengths together, in insertion order. One scoring pass appends its new
    prefixes of every length as one contiguous block, so their distances are one call.
    Shape: latents [capacity, D] (``like``'s dtype); dist [capacity] numpy, ``dist_dtype``.
    """

    def __init__(self, capacity: int, like: torch.Tensor, dist_dtype: np.dtype) -> None:
        self.latents = like.new_empty(capacity, like.shape[1])
        self.dist = np.empty(capacity, dtype=dist_dtype)
        self.size = self.measured = 0

    def append(self, z: torch.Tensor) -> np.ndarray:
        """Store latents [U', D]; return their rows [U']."""
        n, m = self.size, z.shape[0]
        self.latents[n : n + m] = z
        self.size = n + m
        return np.arange(n, n + m)

    def measure(self, objective: PlanObjective) -> None:
        """Goal distances of the rows appended since the last call (one ``distance`` call)."""
        lo, hi = self.measured, self.size
        if hi > lo:
            self.dist[lo:hi] = objective.distance(self.latents[lo:hi]).numpy()
            self.measured = hi


def _distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a non-empty int array (``np.unique`` without its hashing pass,
    which costs more than the sort on a few hundred entries)."""
    s = np.sort(codes)
    keep = np.empty(s.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _batched_scorer(
    dynamics: LatentDynamics,
    root: torch.Tensor,
    root_dist: torch.Tensor,
    valid: torch.Tensor,
    objective: PlanObjective,
    *,
    horizon: int,
    share_prefixes: bool,
    counter: _RowCounter,
    max_rows_per_depth: int,
) -> tuple[_Evaluator, _LatentLookup]:
    """Score sequences from the root cache with one ``dynamics.step`` per remaining step.

    With ``share_prefixes``, each distinct prefix is stepped once per *decision*: prefixes met
    in an earlier iteration are read from a per-length :class:`_PrefixCache` (the latents are a
    deterministic function of the prefix, so this is exact). Prefix codes and lookups are numpy
    (integer work on a few hundred entries); latents and distances stay torch.

    Shape: root [Kv, D] (latent after each valid action from z0); root_dist [Kv] float32, its
    distance to the goal; valid [Kv] long. ``max_rows_per_depth`` bounds the distinct prefixes
    of one length a decision scores.
    """
    Kv = root.shape[0]
    w = objective.weights(horizon).to(root_dist.dtype).numpy()  # [H]
    valid_cost = objective.action_cost.index_select(0, valid).to(root_dist.dtype).numpy()  # [Kv]
    root_dist_np = root_dist.numpy()  # [Kv]
    cap = max_rows_per_depth
    # prefixes of length h + 1 have at most min(cap, Kv^(h + 1)) rows; their parents are the
    # Kv root rows (h = 1) or the rows of the cache one level up
    sizes = [min(cap, Kv ** (h + 1)) for h in range(horizon)]
    caches = [
        _PrefixCache(Kv if h == 1 else sizes[h - 1], Kv, sizes[h]) for h in range(1, horizon)
    ]  # caches[h - 1]: prefixes of length h + 1
    arena = _Arena(sum(sizes[1:]), root, root_dist_np.dtype) if share_prefixes else None

    valid_np = valid.numpy()  # [Kv]

    def step(parents: torch.Tensor, rows: np.ndarray | None, acts: np.ndarray) -> torch.Tensor:
        """Latents [U, D] after action ``acts`` [U] (valid indices) from ``parents[rows]``
        (``rows`` None: from every parent row, in order)."""
        z_in = parents if rows is None else parents.index_select(0, torch.from_numpy(rows))
        counter.rows += int(acts.shape[0])
        return dynamics.step(z_in, torch.from_numpy(valid_np[acts]))

    def score(idx: np.ndarray) -> np.ndarray:
        S, H = idx.shape
        dist = np.empty((S, H), dtype=root_dist_np.dtype)  # [S, H]
        dist[:, 0] = root_dist_np[idx[:, 0]]
        if arena is None:
            z = root.index_select(0, torch.from_numpy(idx[:, 0]))  # [S, D]
            for h in range(1, H):
                z = step(z, None, np.ascontiguousarray(idx[:, h]))  # [S, D]
                dist[:, h] = objective.distance(z).numpy()
        else:
            at = np.empty((S, H), dtype=np.int64)  # [S, H] arena row of each prefix (h >= 1)
            row, parents = idx[:, 0], None  # each sample's row one level up (root rows first)
            for h in range(1, H):
                cache = caches[h - 1]
                code = row * Kv + idx[:, h]  # [S]
                row = cache.lookup(code)  # [S], -1 = never stepped
                miss = row < 0
                if miss.any():
                    new = _distinct(code[miss])  # [U'] distinct new prefixes, sorted
                    if parents is None:
                        z = step(root, new // Kv, new % Kv)  # [U', D]
                    else:
                        z = step(arena.latents, parents[new // Kv], new % Kv)  # [U', D]
                    cache.add(new, arena.append(z))
                    row = cache.lookup(code)
                parents = cache.arena_rows
                at[:, h] = parents[row]
            arena.measure(objective)  # the new prefixes of every length: one distance call
            dist[:, 1:] = arena.dist[at[:, 1:]]
        # PlanObjective.cost_from_distances with its tables hoisted, in numpy (same operations in
        # the same order; equal to the torch version, bit for bit, on every decision checked)
        return (dist * w).sum(axis=-1) + valid_cost[idx].sum(axis=-1)  # [S]

    def latents_of(seq: np.ndarray) -> torch.Tensor | None:
        """The cached latents [H, D] of a sequence [H] ``score`` has seen (None without prefix
        sharing: nothing is kept)."""
        if arena is None and horizon > 1:
            return None
        row, out = int(seq[0]), [root[int(seq[0])]]
        for h in range(1, horizon):
            cache = caches[h - 1]
            row = int(cache.lookup(np.array([row * Kv + int(seq[h])]))[0])
            if row < 0:
                raise PlanningError(f"CEM lost the latents of its best sequence at step {h}")
            out.append(arena.latents[int(cache.arena_rows[row])])  # type: ignore[union-attr]
        return torch.stack(out)  # [H, D]

    return score, latents_of


def _loop_scorer(
    dynamics: LatentDynamics,
    z0: torch.Tensor,
    valid: torch.Tensor,
    objective: PlanObjective,
    counter: _RowCounter,
) -> _Evaluator:
    """Score sequences one sample and one step at a time (the slow reference)."""

    def score(idx: np.ndarray) -> np.ndarray:
        flat = valid[torch.from_numpy(idx)]  # [S, H]
        S, H = flat.shape
        costs = []
        for s in range(S):
            z, lat = z0.unsqueeze(0), []  # [1, D]
            for h in range(H):
                z = dynamics.step(z, flat[s, h : h + 1])  # [1, D]
                lat.append(z)
            counter.rows += H
            costs.append(objective.cost(torch.stack(lat, dim=1), flat[s : s + 1]))  # [1]
        return torch.cat(costs).numpy()  # [S]

    return score


def _root_prior(
    root_dist: torch.Tensor, valid: torch.Tensor, objective: PlanObjective, config: CEMConfig
) -> torch.Tensor | None:
    """Softmax over valid actions of their normalised one-step cost, or None when unused.

    Shape: root_dist [Kv] (goal distance of the latent after each valid action); returns [Kv].
    """
    if config.root_prior_weight == 0.0:
        return None
    one_step = root_dist + objective.action_cost.index_select(0, valid)  # [Kv]
    hi, lo = one_step.max(), one_step.min()
    if not (math.isfinite(float(hi)) and math.isfinite(float(lo))):
        finite = torch.isfinite(one_step)
        if not bool(finite.any()):  # nothing to rank; the search reports the unusable model
            return None
        one_step = torch.where(finite, one_step, one_step[finite].max())  # non-finite = worst
        hi, lo = one_step.max(), one_step.min()
    span = (hi - lo).clamp_min(1e-12)
    q = (hi - one_step) / span  # [Kv] in [0, 1], 1 = best
    return torch.softmax(q.float() / config.root_prior_temperature, dim=0)


def _as_table(probs: torch.Tensor) -> np.ndarray:
    """A torch table [H, Kv] as the float32 numpy array :func:`_search` refits (a copy)."""
    return probs.detach().to(torch.float32).cpu().numpy().copy()


def _cold_table(
    horizon: int, prior: torch.Tensor | None, config: CEMConfig, num_valid: int
) -> torch.Tensor:
    """The first table [H, Kv] without a warm start: uniform mixed with the root prior."""
    uniform = torch.full((horizon, num_valid), 1.0 / num_valid)  # [H, Kv]
    if prior is None:
        return uniform
    rw = config.root_prior_weight
    return (1.0 - rw) * uniform + rw * prior.unsqueeze(0)


class CEMPlanner:
    """Categorical CEM planner (see the module docstring).

    The planner keeps the last decision's table for warm starts; call :meth:`reset` between
    unrelated problems (a new episode). Same state, same history and same seed give the same
    plan, bit for bit.
    """

    name = "cem"

    def __init__(self, config: CEMConfig | None = None) -> None:
        self.config = config or CEMConfig()
        self._warm: _WarmStart | None = None

    def reset(self) -> None:
        """Forget the previous decision (no warm start for the next one)."""
        self._warm = None

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
        valid_np = valid.numpy()
        K, Kv = mask.shape[0], valid.shape[0]
        deadline = deadline_at(started, cfg.deadline_ms if deadline_ms is None else deadline_ms)
        gen = torch.Generator().manual_seed(int(seed))
        counter = _RowCounter()
        with torch.inference_mode():
            root = dynamics.step(z0.expand(Kv, -1), valid)  # [Kv, D]
            counter.rows += Kv
            root_dist = objective.distance(root)  # [Kv]
            pd = objective.prior_distance(root)  # [Kv] or None
            prior = _root_prior(
                root_dist if pd is None else pd, valid, objective, cfg
            )  # [Kv] | None
            probs, seeds = self._initial_table(mask, valid, H, prior)
            score, latents_of = _batched_scorer(
                dynamics,
                root,
                root_dist,
                valid,
                objective,
                horizon=H,
                share_prefixes=cfg.use_prefix_sharing,
                counter=counter,
                max_rows_per_depth=cfg.num_samples * cfg.iterations,
            )
            out = _search(
                score,
                table=_as_table(probs),
                seeds=seeds,
                config=cfg,
                generator=gen,
                deadline_s=deadline,
            )
            best = valid[torch.from_numpy(out.best)]  # [H] flat
            flat_probs = np.zeros((H, K), dtype=np.float32)
            flat_probs[:, valid_np] = out.probs
            self._warm = _WarmStart(probs=torch.from_numpy(flat_probs), best=best)
            return finish_plan(
                dynamics,
                z0,
                objective,
                best,
                planner=self.name,
                rows_evaluated=counter.rows,
                iterations=out.iterations,
                started_s=started,
                hit_deadline=out.hit_deadline,
                latents=latents_of(out.best),
            )

    def _initial_table(
        self, mask: torch.Tensor, valid: torch.Tensor, horizon: int, prior: torch.Tensor | None
    ) -> tuple[torch.Tensor, np.ndarray | None]:
        """First table [H, Kv] and warm-start seed sequence [1, H] (valid indices) or None.

        Shape: prior [Kv] or None (see :func:`_root_prior`).
        """
        K, Kv = mask.shape[0], valid.shape[0]
        cold = _cold_table(horizon, prior, self.config, Kv)  # [H, Kv]
        warm = self._warm
        if not self.config.use_warm_start or warm is None or warm.probs.shape != (horizon, K):
            return cold, None
        shifted = torch.cat([warm.probs[1:], torch.zeros(1, K)])[:, valid]  # [H, Kv]
        mass = shifted.sum(dim=1, keepdim=True)  # [H, 1]
        shifted = torch.where(mass > 0, shifted / mass.clamp_min(1e-12), cold)
        w = self.config.warm_start_weight
        probs = w * shifted + (1.0 - w) * cold
        pos = torch.full((K,), -1, dtype=torch.long)
        pos[valid] = torch.arange(Kv)
        last = valid[0:1]  # noop when valid (it is index 0), else the first valid action
        seq = pos[torch.cat([warm.best[1:], last])]  # [H]
        seeds = seq.unsqueeze(0).numpy() if bool((seq >= 0).all()) else None
        return probs, seeds


def cem_plan_loop(
    dynamics: LatentDynamics,
    z0: torch.Tensor,
    objective: PlanObjective,
    mask: torch.Tensor,
    *,
    seed: int,
    config: CEMConfig | None = None,
) -> PlanResult:
    """Reference CEM: the same search as a cold-started :class:`CEMPlanner`, but one
    ``dynamics.step`` call per sample per step (no batching, no root cache). Slow on purpose.

    Shape: z0 [D] float; mask [K] bool.
    """
    started = time.perf_counter()
    cfg = config or CEMConfig()
    H = cfg.horizon
    valid = check_problem(dynamics, z0, objective, mask, H)  # [Kv]
    Kv = valid.shape[0]
    gen = torch.Generator().manual_seed(int(seed))
    counter = _RowCounter()
    with torch.inference_mode():
        score = _loop_scorer(dynamics, z0, valid, objective, counter)
        root = torch.cat(
            [dynamics.step(z0.unsqueeze(0), valid[k : k + 1]) for k in range(Kv)]
        )  # [Kv, D]
        counter.rows += Kv
        pd = objective.prior_distance(root)  # [Kv] or None
        prior = _root_prior(objective.distance(root) if pd is None else pd, valid, objective, cfg)
        probs = _cold_table(H, prior, cfg, Kv)  # [H, Kv]
        out = _search(
            score, table=_as_table(probs), seeds=None, config=cfg, generator=gen, deadline_s=None
        )
        return finish_plan(
            dynamics,
            z0,
            objective,
            valid[torch.from_numpy(out.best)],
            planner="cem_loop",
            rows_evaluated=counter.rows,
            iterations=out.iterations,
            started_s=started,
            hit_deadline=False,
        )
