"""Mesh simulator, fault library, episodes, and the Gymnasium environment ``aither_wm/Mesh-v0``.

Importing this package registers the environment (once; the entry point is lazy):

>>> import gymnasium, aither_wm.sim
>>> env = gymnasium.make("aither_wm/Mesh-v0", graph="graphs/online-boutique.json")
"""

import gymnasium as _gym

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

#: Gymnasium id of :class:`aither_wm.sim.env.MeshEnv` (``graph=`` names a graph file).
ENV_ID = "aither_wm/Mesh-v0"

if ENV_ID not in _gym.registry:
    _gym.register(id=ENV_ID, entry_point="aither_wm.sim.env:MeshEnv")
