"""Mesh simulator, fault library, episodes, and the Gymnasium environment ``aither_wm/Mesh-v0``.

``import aither_wm`` registers the environment (once; the entry point is lazy):

>>> import gymnasium, aither_wm
>>> env = gymnasium.make("aither_wm/Mesh-v0", graph="online-boutique")
"""

from aither_wm import ENV_ID  # registered by ``import aither_wm``
from aither_wm.sim.config import SimConfig
from aither_wm.sim.faults import FAULTS, REMEDIES, Fault, make_fault, pick_fault, remedy_for
from aither_wm.sim.mesh import MeshSimulator, StepResult
from aither_wm.sim.scenarios import generate_transitions, run_episode
from aither_wm.sim.slo import SLOStatus

__all__ = [
    "ENV_ID",
    "FAULTS",
    "REMEDIES",
    "Fault",
    "MeshSimulator",
    "SLOStatus",
    "SimConfig",
    "StepResult",
    "generate_transitions",
    "make_fault",
    "pick_fault",
    "remedy_for",
    "run_episode",
]
