"""Streaming per-service standardisation of the metric features: deviation from each service's
own recent past, on the scale of its fault-free variation.

For interval t and each service and metric feature: ``(x_t - median(x_{t-W} .. x_{t-1})) /
scale``, clipped to ``[-clip, clip]``; structural features are kept as they are. The median runs
over the ``W`` intervals before t only (causal: what a live detector has), so a slow drift in
load or a redeployed pod on another day sets the new normal within W intervals; the scale
(``1.4826 * MAD`` of those deviations, floored) is fitted on the training day's fault-free
intervals and then fixed. Without it the encoder sees absolute values, and the two recorded days
differ in level more than a fault moves a service (measured: a model on absolute features
scored its fault windows no higher than the test day's fault-free minutes).

Glossary: T intervals, N services, F features, M = F - STRUCT_DIM metric features, W window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aither_wm.graph.features import STRUCT_DIM

__all__ = ["Standardizer", "rolling_deviation"]


def rolling_deviation(x: torch.Tensor, window: int) -> torch.Tensor:
    """Metric features minus their median over the ``window`` intervals before each interval
    (the first intervals use the first value for the missing past).

    Shape: x [T, N, F] -> [T, N, M].
    """
    m = x[..., STRUCT_DIM:]  # [T, N, M]
    T = m.shape[0]
    past = torch.cat([m[:1].expand(window, -1, -1), m], dim=0)  # [T + W, N, M]
    windows = past.unfold(0, window, 1)[:T]  # [T, N, M, W]: row t holds x_{t-W} .. x_{t-1}
    return m - windows.median(dim=-1).values  # [T, N, M]


@dataclass(frozen=True)
class Standardizer:
    """Per-service, per-metric robust scale of the rolling deviations.

    Attributes:
        window: W, intervals in the rolling median.
        scale: Shape: [N, M] (> 0).
        clip: bound of the standardised values.
    """

    window: int
    scale: torch.Tensor
    clip: float

    @classmethod
    def fit(
        cls,
        x: torch.Tensor,
        rows: torch.Tensor,
        *,
        window: int,
        floor: float = 0.01,
        clip: float = 5.0,
    ) -> Standardizer:
        """Fit on a day ``x`` [T, N, F] at its fault-free intervals ``rows`` [R]."""
        dev = rolling_deviation(x, window)[rows]  # [R, N, M]
        med = dev.median(dim=0).values  # [N, M]
        mad = (dev - med).abs().median(dim=0).values  # [N, M]
        return cls(window, (1.4826 * mad).clamp_min(floor), clip)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Shape: [T, N, F] -> [T, N, F] (metric columns standardised, structure kept)."""
        z = (rolling_deviation(x, self.window) / self.scale).clamp(-self.clip, self.clip)
        return torch.cat([x[..., :STRUCT_DIM], z], dim=-1)
