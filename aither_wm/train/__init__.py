"""Training: dataset tensors, the two-term loss, the fit loop, metrics and checkpoints."""

from aither_wm.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from aither_wm.train.dataset import GraphTransitions, TransitionBatch, TransitionDataset
from aither_wm.train.fit import FitReport, fit
from aither_wm.train.metrics import EvalReport, effective_rank, evaluate, evaluate_buckets

__all__ = [
    "Checkpoint",
    "EvalReport",
    "FitReport",
    "GraphTransitions",
    "TransitionBatch",
    "TransitionDataset",
    "effective_rank",
    "evaluate",
    "evaluate_buckets",
    "fit",
    "load_checkpoint",
    "save_checkpoint",
]
