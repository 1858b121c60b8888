"""The Ray runtime: actors, the host, the control loop, the plugin object, the lambda trials.

``host`` starts or connects to Ray; ``resources`` derives each actor's CPU share from what Ray
has; ``actors`` wraps the plain classes (trainer, planners, encoder, controller) in actors, with
``dispatch`` (the driver's side of the calls) and ``weights`` (how weights reach planners);
``plugin`` is the host-facing object (lifecycle, ``decide``, ``plan``); ``settings`` holds its
config and the ``aither-wm run`` file, which ``validate`` checks before anything starts; ``tune``
runs lambda trials as tasks; ``manifest`` describes it all for a host.
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
from aither_wm.runtime.plugin import AitherPlugin
from aither_wm.runtime.resources import ActorResources, derive_resources
from aither_wm.runtime.services import EncoderService, TrainerService, TrainerSettings
from aither_wm.runtime.settings import PlannerSpec, PluginConfig, ServiceConfig, load_service_config
from aither_wm.runtime.validate import validate_plugin_config, validate_service_config

__all__ = [
    "ActorDispatcher",
    "ActorResources",
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
    "ServiceConfig",
    "StateSource",
    "TrainerActor",
    "TrainerService",
    "TrainerSettings",
    "actor_name",
    "build_loop",
    "derive_resources",
    "gather",
    "load_service_config",
    "start_encoder",
    "start_planner",
    "start_trainer",
    "validate_plugin_config",
    "validate_service_config",
]
