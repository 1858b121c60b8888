"""Violation-of-expectation anomaly detection: surprise, a robust running baseline, events."""

from aither_wm.anomaly.detector import AnomalyEvent, DetectorConfig, SurpriseDetector, Verdict
from aither_wm.anomaly.surprise import SurpriseMeter

__all__ = ["AnomalyEvent", "DetectorConfig", "SurpriseDetector", "SurpriseMeter", "Verdict"]
