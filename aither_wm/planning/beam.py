"""Breadth-first beam search; exhaustive (the deterministic oracle) when ``beam_width`` is None.

Depth by depth, every kept prefix is extended by every valid action in batched
``dynamics.step`` calls (at most ``chunk_rows`` rows each). With ``beam_width`` set, the prefixes
kept between depths are the ``beam_width`` best by path cost plus the cost of staying at their
latent for the rest of the horizon (the same estimate MCTS uses). The last depth keeps no latents:
each chunk only updates the best sequence, so exhaustive search at H = 3 on K ~ 100 (about 1e6
rows) runs in bounded memory. Ties go to the first sequence in lexicographic valid-index order.

Glossary: D latent size, K flat actions, Kv valid actions, H horizon, B kept prefixes.
"""

from __future__ import annotations

import math
import time

import torch

from aither_wm.errors import ConfigError, PlanningError
from aither_wm.planning.objective import PlanObjective, check_problem
from aither_wm.planning.result import PlanResult, deadline_at, finish_plan
from aither_wm.types import LatentDynamics

__all__ = ["BeamPlanner"]


class BeamPlanner:
    """Beam search over action sequences of length ``horizon``.

    Args:
        horizon: H.
        beam_width: prefixes kept between depths; None keeps all of them (exhaustive, K^H
            sequences: the exact optimum under the objective).
        chunk_rows: most rows per ``dynamics.step`` call.
        max_rows: refuse (PlanningError) a search that would step more rows than this; set a
            ``beam_width`` instead.
    """

    name = "beam"

    def __init__(
        self,
        *,
        horizon: int = 2,
        beam_width: int | None = None,
        chunk_rows: int = 16384,
        max_rows: int = 20_000_000,
    ) -> None:
        if horizon < 1:
            raise ConfigError(f"horizon must be >= 1, got {horizon}")
        if beam_width is not None and beam_width < 1:
            raise ConfigError(f"beam_width must be >= 1 or None, got {beam_width}")
        if chunk_rows < 1:
            raise ConfigError(f"chunk_rows must be >= 1, got {chunk_rows}")
        self.horizon, self.beam_width = horizon, beam_width
        self.chunk_rows, self.max_rows = chunk_rows, max_rows

    def reset(self) -> None:
        """Nothing is carried between decisions."""

    def rows_needed(self, num_valid: int) -> int:
        """Rows one decision steps with ``num_valid`` valid actions (no deadline)."""
        rows, kept = 0, 1
        for _ in range(self.horizon):
            rows += kept * num_valid
            kept = kept * num_valid
            if self.beam_width is not None:
                kept = min(kept, self.beam_width)
        return rows

    def plan(
        self,
        dynamics: LatentDynamics,
        z0: torch.Tensor,
        objective: PlanObjective,
        mask: torch.Tensor,
        *,
        seed: int = 0,
        deadline_ms: float | None = None,
    ) -> PlanResult:
        """Plan one decision. ``seed`` is accepted for a uniform signature; beam is deterministic.
        When the deadline passes between depths, the rest is completed with a beam of one.

        Shape: z0 [D] float; mask [K] bool (True = valid).
        """
        del seed
        started = time.perf_counter()
        H = self.horizon
        valid = check_problem(dynamics, z0, objective, mask, H)  # [Kv]
        Kv = valid.shape[0]
        if self.rows_needed(Kv) > self.max_rows:
            raise PlanningError(
                f"beam search of {Kv}^{H} sequences steps {self.rows_needed(Kv)} rows "
                f"> max_rows={self.max_rows}; set beam_width"
            )
        deadline = deadline_at(started, deadline_ms)
        w = objective.weights(H)  # [H]
        remaining = torch.cat([w.flip(0).cumsum(0).flip(0), torch.zeros(1)])  # [H + 1]
        ac = objective.action_cost[valid]  # [Kv]
        rows, hit_deadline, depths = 0, False, 0
        with torch.inference_mode():
            z = z0.unsqueeze(0)  # [1, D]
            g = torch.zeros(1, dtype=torch.float64)  # [1] path cost
            seqs = torch.zeros(1, 0, dtype=torch.long)  # [1, 0]
            best_seq: torch.Tensor | None = None
            for d in range(H):
                if deadline is not None and d > 0 and time.perf_counter() >= deadline:
                    hit_deadline = True
                    width: int | None = 1
                else:
                    width = self.beam_width
                if width is not None and seqs.shape[0] > width and d > 0:
                    dist_here = objective.distance(z).double()  # [B]
                    keep = torch.sort(g + remaining[d] * dist_here, stable=True).indices[:width]
                    z, g, seqs = z[keep], g[keep], seqs[keep]
                is_last = d == H - 1
                B = z.shape[0]
                per_chunk = max(1, self.chunk_rows // Kv)
                new_z, new_g = [], []
                best_cost = float("inf")
                for lo in range(0, B, per_chunk):
                    hi = min(B, lo + per_chunk)
                    zc = z[lo:hi].repeat_interleave(Kv, dim=0)  # [b * Kv, D]
                    ac_rows = valid.repeat(hi - lo)  # [b * Kv]
                    zn = dynamics.step(zc, ac_rows)  # [b * Kv, D]
                    rows += zn.shape[0]
                    dist = objective.distance(zn).double().view(hi - lo, Kv)  # [b, Kv]
                    gc = g[lo:hi, None] + w[d].double() * dist + ac.double()  # [b, Kv]
                    if is_last:
                        flat = int(gc.nan_to_num(nan=math.inf).argmin())  # argmin would pick NaN
                        if float(gc.view(-1)[flat]) < best_cost:
                            best_cost = float(gc.view(-1)[flat])
                            b, a = divmod(flat, Kv)
                            best_seq = torch.cat([seqs[lo + b], valid[a : a + 1]])
                    else:
                        new_z.append(zn)
                        new_g.append(gc.reshape(-1))
                depths = d + 1
                if not is_last:
                    z, g = torch.cat(new_z), torch.cat(new_g)  # [B * Kv, D], [B * Kv]
                    seqs = torch.cat(
                        [seqs.repeat_interleave(Kv, dim=0), valid.repeat(B).unsqueeze(1)], dim=1
                    )  # [B * Kv, d + 1] flat indices
            if best_seq is None:  # every cost was NaN or infinite: the model predicts garbage
                raise PlanningError(
                    "every sequence has a non-finite predicted cost: the model is unusable"
                )
            return finish_plan(
                dynamics,
                z0,
                objective,
                best_seq,
                planner=self.name,
                rows_evaluated=rows,
                iterations=depths,
                started_s=started,
                hit_deadline=hit_deadline,
            )
