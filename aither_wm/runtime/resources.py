"""How many CPUs (and GPUs) each actor of the plugin reserves, derived from what Ray has.

A Ray actor that asks for more CPUs than are free waits forever, silently. The plugin's actors
are one trainer, one actor per planner (default: CEM and MCTS) and an optional encoder; at full
size they want 1 CPU each (0.5 for the encoder), 3 CPUs in all, which a 2-core laptop does not
have. Every request left unset in :class:`~aither_wm.runtime.host.RuntimeConfig` (None, the
default) is therefore *derived*: the full size when everything fits, else every unset request
scaled down by the same factor until the actors fit the CPUs Ray has (fractional CPUs: each
planner still runs one torch thread; Ray only books the share). A request the config sets is
kept as written.

:func:`check_schedulable` says, before any actor starts, when a configuration cannot be
scheduled: on an embedded Ray (fixed size) that is an error; on a cluster (which may autoscale)
a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from aither_wm.errors import ConfigError

__all__ = ["FULL_CPUS", "ActorResources", "check_schedulable", "derive_resources"]

#: CPUs each actor reserves when the machine has room for all of them.
FULL_CPUS: dict[str, float] = {"trainer": 1.0, "planner": 1.0, "encoder": 0.5}

#: Ray books resources to 1e-4; shares are floored to this step so their sum never exceeds the
#: CPUs they were cut from.
_STEP = 0.01


@dataclass(frozen=True)
class ActorResources:
    """The reservations the plugin's actors are started with.

    Attributes:
        trainer_cpus: CPUs of the trainer actor.
        trainer_gpus: GPUs of the trainer actor.
        planner_cpus: CPUs of each planner actor.
        encoder_cpus: CPUs of the encoder actor.
        controller_cpus: CPUs of the controller actor (``aither-wm run``).
        planners: how many planner actors.
        use_encoder: whether the encoder actor is started.
        derived: the fields that were derived (unset in the config), by name.
    """

    trainer_cpus: float
    trainer_gpus: float
    planner_cpus: float
    encoder_cpus: float
    controller_cpus: float
    planners: int
    use_encoder: bool
    derived: tuple[str, ...] = ()

    @property
    def total_cpus(self) -> float:
        """CPUs all the actors reserve together."""
        enc = self.encoder_cpus if self.use_encoder else 0.0
        return self.trainer_cpus + self.planners * self.planner_cpus + enc + self.controller_cpus

    def describe(self) -> str:
        """One line: ``trainer 0.66 CPU, 2 planners x 0.66 CPU (derived), ...``."""
        parts = [
            f"trainer {self.trainer_cpus:g} CPU"
            + (f" + {self.trainer_gpus:g} GPU" if self.trainer_gpus else ""),
            f"{self.planners} planner{'s' if self.planners != 1 else ''} x {self.planner_cpus:g} CPU",
        ]
        if self.use_encoder:
            parts.append(f"encoder {self.encoder_cpus:g} CPU")
        if self.controller_cpus:
            parts.append(f"controller {self.controller_cpus:g} CPU")
        text = ", ".join(parts) + f" = {self.total_cpus:g} CPUs"
        return text + (f" (derived: {', '.join(self.derived)})" if self.derived else "")


def derive_resources(
    *,
    cpus: float,
    planners: int,
    use_encoder: bool = False,
    trainer_cpus: float | None = None,
    planner_cpus: float | None = None,
    encoder_cpus: float | None = None,
    controller_cpus: float = 0.0,
    trainer_gpus: float = 0.0,
) -> ActorResources:
    """The actors' reservations for a Ray with ``cpus`` logical CPUs.

    Requests given (not None) are kept. The unset ones get their :data:`FULL_CPUS` size when the
    whole plugin fits in ``cpus``; otherwise all of them are scaled by one factor so that the
    total fits (floored to 0.01 CPU). When the requests given already take every CPU, the unset
    ones get 0.01 each and :func:`check_schedulable` reports the configuration.

    Known answers: 2 CPUs, 2 planners, nothing set -> trainer and planners 0.66 each (1.98);
    4 CPUs -> 1 each.
    """
    wanted = {
        "trainer_num_cpus": (trainer_cpus, FULL_CPUS["trainer"], 1),
        "planner_num_cpus": (planner_cpus, FULL_CPUS["planner"], planners),
        "encoder_num_cpus": (encoder_cpus, FULL_CPUS["encoder"], 1 if use_encoder else 0),
    }
    fixed = controller_cpus + sum(v * n for v, _, n in wanted.values() if v is not None)
    auto = sum(full * n for v, full, n in wanted.values() if v is None)
    room = max(0.0, float(cpus) - fixed)
    factor = 1.0 if auto <= room else room / auto
    out: dict[str, float] = {}
    for key, (value, full, _) in wanted.items():
        if value is not None:
            out[key] = float(value)
        else:
            out[key] = max(_STEP, math.floor(full * factor / _STEP + 1e-9) * _STEP)
    derived = tuple(k for k, (v, _, n) in wanted.items() if v is None and n > 0)
    return ActorResources(
        trainer_cpus=round(out["trainer_num_cpus"], 4),
        trainer_gpus=float(trainer_gpus),
        planner_cpus=round(out["planner_num_cpus"], 4),
        encoder_cpus=round(out["encoder_num_cpus"], 4),
        controller_cpus=float(controller_cpus),
        planners=planners,
        use_encoder=use_encoder,
        derived=derived,
    )


def check_schedulable(
    res: ActorResources, *, cpus: float, gpus: float, is_fixed_size: bool
) -> str | None:
    """Why ``res`` cannot be scheduled on a Ray with ``cpus`` CPUs and ``gpus`` GPUs, or None.

    Raises:
        ConfigError: the configuration cannot be scheduled and the cluster cannot grow
            (``is_fixed_size``: an embedded Ray); the message names the actors and the fix.

    Returns:
        A warning to print when the cluster may still grow (autoscaling), else None.
    """
    problems = []
    if res.total_cpus > cpus + 1e-9:
        problems.append(
            f"the actors reserve {res.describe()} but Ray has {cpus:g} CPUs; leave "
            f"plugin.runtime.trainer_num_cpus / planner_num_cpus / encoder_num_cpus unset "
            f"(derived from the CPUs Ray has) or lower them"
        )
    if res.trainer_gpus > gpus + 1e-9:
        problems.append(
            f"the trainer asks for {res.trainer_gpus:g} GPU but Ray has {gpus:g}; set "
            f"plugin.runtime.trainer_num_gpus = 0 on a machine without a GPU"
        )
    if not problems:
        return None
    text = "cannot schedule the plugin's actors: " + "; ".join(problems)
    if is_fixed_size:
        raise ConfigError(text)
    return text + " (waiting for the cluster to scale up)"
