"""AnomalyGate: the controller plans when the world model is surprised, not at every step.

The gate scores each observed step with a surprise function (normally
``SurpriseMeter.observe``: the world model's open-loop surprise) and feeds a
:class:`~aither_wm.anomaly.SurpriseDetector`. Subscribers receive its events. ``should_plan``
is true while an incident is open (it opened at the 3-sigma warning) or when a health check
already fails (the reactive safety net stays), so on calm traffic the planners are not asked and
cannot act on noise.
"""

from __future__ import annotations

from collections.abc import Callable

from aither_wm.anomaly.detector import AnomalyEvent, DetectorConfig, SurpriseDetector, Verdict
from aither_wm.graph.state import Action, MeshState

__all__ = ["AnomalyGate"]

Scorer = Callable[[MeshState, Action, MeshState], float]


class AnomalyGate:
    """Surprise -> detector -> "plan now?".

    Args:
        scorer: ``(state, action, next_state) -> surprise`` (e.g. ``SurpriseMeter(...).observe``).
        config: the detector's thresholds.
    """

    def __init__(self, scorer: Scorer, config: DetectorConfig | None = None) -> None:
        self.scorer = scorer
        self.detector = SurpriseDetector(config or DetectorConfig())
        self.last: Verdict | None = None
        self.events: list[AnomalyEvent] = []
        self.detector.subscribe(self.events.append)

    def subscribe(self, callback: Callable[[AnomalyEvent], None]) -> None:
        self.detector.subscribe(callback)

    def observe(self, state: MeshState, action: Action, next_state: MeshState) -> Verdict:
        """Score the step that led to ``next_state``."""
        self.last = self.detector.update(float(self.scorer(state, action, next_state)))
        return self.last

    def should_plan(self, state: MeshState) -> bool:
        """True in an open incident, or when any service already fails its health check."""
        if self.detector.in_incident:
            return True
        return any(s.health != "healthy" for s in state.services.values())
