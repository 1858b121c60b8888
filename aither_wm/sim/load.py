"""External load (a diurnal curve with AR(1) noise) and its propagation along call edges.

Glossary: N services, E edges (caller ``src`` -> callee ``dst``).

Offered load is the fixed point of ``lam = ext + sum_{e: dst=v} lam[src] * served[src] * w[e]``,
where ``w`` is the fan-out times the retry multiplier of the edge. Call graphs have cycles: the
acyclic part is solved by Jacobi sweeps (warm-started from the previous step's load) and each
back edge (see :class:`~aither_wm.sim.topology.MeshTopology`) carries load around its cycle once,
so a loop cannot amplify itself without bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_RPS", "LoadCurve", "propagate_load"]

#: Ceiling of any service's offered load, requests/s (far above any calibrated capacity).
MAX_RPS = 1e8


@dataclass
class LoadCurve:
    """External request rate per service: mean share x diurnal factor x AR(1) noise.

    Attributes:
        share: external request rate at mean load. Shape: [N].
        amplitude: relative diurnal amplitude.
        period_steps: steps per diurnal period.
        phase: phase of the curve at step 0, radians (drawn per episode).
        noise_std: stationary std of the multiplicative noise.
        noise_corr: step-to-step correlation of the noise.
        noise: current noise state, one value per service. Shape: [N].
    """

    share: np.ndarray
    amplitude: float
    period_steps: float
    phase: float
    noise_std: float
    noise_corr: float
    noise: np.ndarray

    @classmethod
    def start(
        cls,
        share: np.ndarray,
        *,
        amplitude: float,
        period_steps: float,
        noise_std: float,
        noise_corr: float,
        rng: np.random.Generator,
    ) -> LoadCurve:
        """A curve at a random phase with noise drawn from its stationary distribution."""
        return cls(
            share=share,
            amplitude=amplitude,
            period_steps=period_steps,
            phase=float(rng.uniform(0.0, 2.0 * math.pi)),
            noise_std=noise_std,
            noise_corr=noise_corr,
            noise=np.asarray(rng.normal(0.0, noise_std, share.shape[0])),
        )

    def diurnal(self, step: int) -> float:
        """The diurnal factor at ``step`` (1 at the mean)."""
        return 1.0 + self.amplitude * math.sin(
            2.0 * math.pi * step / self.period_steps + self.phase
        )

    def sample(self, step: int, rng: np.random.Generator) -> np.ndarray:
        """Advance the noise one step and return the external load at ``step``. Shape: [N]."""
        c = self.noise_corr
        innov = rng.normal(0.0, self.noise_std * math.sqrt(1.0 - c * c), self.noise.shape[0])
        self.noise = c * self.noise + innov  # [N]
        factor = np.clip(1.0 + self.noise, 0.2, 3.0)  # [N]
        return self.share * self.diurnal(step) * factor  # [N]


def propagate_load(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    ext: np.ndarray,
    *,
    init: np.ndarray,
    sweeps: int,
    is_back: np.ndarray,
    served: np.ndarray | None = None,
) -> np.ndarray:
    """Offered load per service: sweeps over the acyclic edges, then once more for back edges.

    Args:
        src, dst: caller and callee of each edge. Shape: [E] int.
        weight: calls sent to the callee per request the caller serves (fan-out x retries). [E]
        ext: external load per service, requests/s. Shape: [N].
        init: starting guess (the previous step's load). Shape: [N].
        sweeps: Jacobi sweeps per pass (longest acyclic path + 1 makes a pass exact).
        is_back: edges closing a cycle: they carry the load that reached their caller over the
            acyclic edges, once. Shape: [E] bool.
        served: fraction of its offered load each caller actually processes (1 if None). [N]

    Returns:
        offered load per service, requests/s, capped at MAX_RPS. Shape: [N].
    """
    N = ext.shape[0]
    gain = weight if served is None else weight * served[src]  # [E]
    fwd = np.where(is_back, 0.0, gain)  # [E]

    def sweep(base: np.ndarray, lam: np.ndarray) -> np.ndarray:
        for _ in range(sweeps):
            lam = np.minimum(base + np.bincount(dst, weights=lam[src] * fwd, minlength=N), MAX_RPS)
        return lam

    lam = sweep(ext, np.minimum(init, MAX_RPS))  # [N]
    if is_back.any():
        back = np.bincount(dst, weights=np.where(is_back, lam[src] * gain, 0.0), minlength=N)
        lam = sweep(ext + back, lam)  # [N]
    return lam
