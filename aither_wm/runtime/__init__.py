"""The Ray runtime: actors, the host, the control loop, the plugin object, the lambda trials.

``host`` starts or connects to Ray; ``actors`` wraps the plain classes (trainer, planners, encoder,
controller) in actors, with ``dispatch`` (the driver's side of the calls) and ``weights`` (how
weights reach planners); ``plugin`` is the host-facing lifecycle object and the ``aither-wm run``
config; ``tune`` runs lambda trials as tasks; ``manifest`` describes it all for a host.
``services`` and ``loop`` hold the plain classes the actors wrap (no Ray in them). What a user
runs on top of it (the demo, the service) is in :mod:`aither_wm.apps`.
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
