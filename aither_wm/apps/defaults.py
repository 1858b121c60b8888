"""The apps' defaults that are not fields of a config model (plain values: the command line
reads them without importing the apps)."""

from __future__ import annotations

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DEFAULT_GRAPH",
    "LIVE_GRAPH",
    "TUNE_MAX_TRIALS",
    "TUNE_PARALLEL",
    "TUNE_TRANSITIONS_STEPS",
    "TUNE_TRIAL_STEPS",
]

#: The graph the demo, training, planning and benches use unless told otherwise (a shipped
#: graph's name: found from any directory).
DEFAULT_GRAPH = "deathstarbench-socialnetwork"
#: The graph of ``aither-wm live`` unless told otherwise (11 services: quick to bring up).
LIVE_GRAPH = "online-boutique"
#: Where ``aither-wm train`` writes its checkpoint: the one ``PluginConfig.checkpoint`` names.
DEFAULT_CHECKPOINT = "runs/world_model.pt"

#: ``tune lambda``: training steps of each trial (the verdict needs the trend, not convergence).
TUNE_TRIAL_STEPS = 200
#: ``tune lambda``: transitions generated when no log is given.
TUNE_TRANSITIONS_STEPS = 2400
#: ``tune lambda``: trials in all.
TUNE_MAX_TRIALS = 10
#: ``tune lambda``: trials per round (Ray tasks at once, and the embedded Ray's CPUs).
TUNE_PARALLEL = 2
