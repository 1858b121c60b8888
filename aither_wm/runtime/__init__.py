"""The Ray runtime: the only package that imports ray.

``host`` starts or connects to Ray; ``actors`` wraps the plain classes (trainer, planners, encoder,
controller) in actors; ``plugin`` is the host-facing lifecycle object; ``demo`` is ``aither-wm
demo``; ``service`` is ``aither-wm run``. ``services`` and ``loop`` hold the plain classes the
actors wrap (no Ray in them).
"""

from aither_wm.runtime.actors import (
    ActorDispatcher,
    ControllerActor,
    EncoderActor,
    PlannerActor,
    TrainerActor,
    actor_name,
    gather,
    start_encoder,
    start_planner,
    start_trainer,
)
from aither_wm.runtime.host import RayHost, RuntimeConfig
from aither_wm.runtime.loop import ComponentRef, ControlLoop, LoopSpec, StateSource, build_loop
from aither_wm.runtime.plugin import AitherPlugin, PlannerSpec, PluginConfig
from aither_wm.runtime.services import EncoderService, TrainerService, TrainerSettings

__all__ = [
    "ActorDispatcher",
    "AitherPlugin",
    "ComponentRef",
    "ControlLoop",
    "ControllerActor",
    "EncoderActor",
    "EncoderService",
    "LoopSpec",
    "PlannerActor",
    "PlannerSpec",
    "PluginConfig",
    "RayHost",
    "RuntimeConfig",
    "StateSource",
    "TrainerActor",
    "TrainerService",
    "TrainerSettings",
    "actor_name",
    "build_loop",
    "gather",
    "start_encoder",
    "start_planner",
    "start_trainer",
]
