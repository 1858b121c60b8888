"""Neural networks on tensors only: encoder, projector, predictor, and the world model."""

from aither_wm.models.control_model import ControlModel, TokenDynamics
from aither_wm.models.encoder import EncoderOutput, GraphStateEncoder
from aither_wm.models.mesh_model import Decision, MeshWorldModel
from aither_wm.models.predictor import ActionEmbedding, LatentPredictor
from aither_wm.models.projector import Projector
from aither_wm.models.world_model import BoundDynamics, Encoded, WorldModel

__all__ = [
    "ActionEmbedding",
    "BoundDynamics",
    "ControlModel",
    "Decision",
    "Encoded",
    "EncoderOutput",
    "GraphStateEncoder",
    "LatentPredictor",
    "MeshWorldModel",
    "Projector",
    "TokenDynamics",
    "WorldModel",
]
