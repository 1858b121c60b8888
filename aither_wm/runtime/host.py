"""Where Ray comes from: an embedded local Ray by default, an existing cluster via ``RAY_ADDRESS``.

Embedded (no address): ``ray.init`` with an explicit CPU count, an explicit object-store size (the
default would claim 30 % of RAM, and /dev/shm is small on laptops and containers), no dashboard
unless asked for (and then bound to 127.0.0.1), and Ray's token authentication left as Ray sets it
(on by default since 2.59: ``~/.ray/auth_token``). Connected (``address`` in the config or
``RAY_ADDRESS`` in the environment): ``ray.init(address=...)``; the cluster decides resources.

:class:`RayHost` is idempotent: ``start`` twice starts once; ``stop`` shuts down only a Ray it
started itself (never a session someone else opened in this process).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import ray
from pydantic import Field

from aither_wm.config import FrozenConfig

__all__ = ["RayHost", "RuntimeConfig"]

log = logging.getLogger(__name__)


class RuntimeConfig(FrozenConfig):
    """How the plugin gets and uses Ray."""

    address: str | None = None
    """A cluster to connect to ("auto", "ray://host:10001", "host:6379"); None: ``RAY_ADDRESS``
    from the environment, else an embedded local Ray."""
    namespace: str = "aither_wm"
    """Ray namespace of the plugin's named actors."""
    num_cpus: int | None = Field(default=None, ge=1)
    """Logical CPUs of an embedded Ray; None: ``os.cpu_count()``."""
    num_gpus: int | None = Field(default=None, ge=0)
    """GPUs of an embedded Ray; None: what torch sees (0 on a CPU build)."""
    object_store_mb: int = Field(default=200, ge=80)
    """Object store of an embedded Ray, MiB (Ray's minimum is 75 MiB)."""
    include_dashboard: bool = False
    """Start the dashboard of an embedded Ray (bound to ``dashboard_host``)."""
    dashboard_host: str = "127.0.0.1"
    """Interface the dashboard listens on; keep it local unless behind an authenticating proxy."""
    log_to_driver: bool = True
    """Forward actor stdout/stderr to this process's stderr."""
    trainer_num_cpus: float | None = Field(default=None, ge=0.0)
    """CPUs reserved for the trainer actor; None: derived from the CPUs Ray has (1 when every
    actor fits, less on a small machine: ``aither_wm.runtime.resources``)."""
    trainer_num_gpus: float = Field(default=0.0, ge=0.0)
    """GPUs for the trainer actor (1 on a GPU cluster; training then runs on cuda)."""
    planner_num_cpus: float | None = Field(default=None, ge=0.0)
    """CPUs reserved for each planner actor (each uses one torch thread); None: derived (1 when
    every actor fits, a fraction on a small machine, so every planner starts)."""
    encoder_num_cpus: float | None = Field(default=None, ge=0.0)
    """CPUs reserved for the encoder actor; None: derived (0.5 when every actor fits)."""
    controller_num_cpus: float = Field(default=0.0, ge=0.0)
    """CPUs reserved for the controller actor (it mostly waits on planners)."""
    max_restarts: int = Field(default=3, ge=-1)
    """Restarts of a crashed actor (-1: unlimited); the trainer resumes from its checkpoint."""
    start_timeout_s: float = Field(default=120.0, gt=0.0)
    """How long ``AitherPlugin.start`` waits for every actor to answer before it reports the ones
    that did not start (not scheduled, or failing in their constructor)."""


class RayHost:
    """Starts (or connects to) Ray once, and stops only what it started.

    Args:
        config: the runtime section.
    """

    def __init__(self, config: RuntimeConfig | None = None) -> None:
        self.config = config or RuntimeConfig()
        self.owns_ray = False
        self.info: dict[str, Any] = {}

    @property
    def address(self) -> str | None:
        """The cluster address in use (config first, then ``RAY_ADDRESS``), None for embedded."""
        return self.config.address or os.environ.get("RAY_ADDRESS") or None

    def start(self) -> dict[str, Any]:
        """Initialise Ray if this process has not; return a summary (mode, resources, auth)."""
        cfg = self.config
        auth = os.environ.get("RAY_AUTH_MODE", "token (Ray default)")
        if auth.lower() == "disabled":
            warnings.warn(
                "RAY_AUTH_MODE=disabled: anyone who reaches the Ray ports can run code here; "
                "leave token authentication on",
                RuntimeWarning,
                stacklevel=2,
            )
        if ray.is_initialized():
            mode = "existing"
        elif self.address:
            ray.init(address=self.address, namespace=cfg.namespace, log_to_driver=cfg.log_to_driver)
            self.owns_ray, mode = True, "cluster"
        else:
            ray.init(
                address="local",  # a new embedded instance, even beside another Ray on this host
                num_cpus=cfg.num_cpus or os.cpu_count() or 1,
                num_gpus=cfg.num_gpus if cfg.num_gpus is not None else _visible_gpus(),
                object_store_memory=cfg.object_store_mb * 1024 * 1024,
                include_dashboard=cfg.include_dashboard,
                dashboard_host=cfg.dashboard_host,
                namespace=cfg.namespace,
                log_to_driver=cfg.log_to_driver,
            )
            self.owns_ray, mode = True, "embedded"
        res = ray.cluster_resources()
        self.info = {
            "mode": mode,
            "address": self.address,
            "namespace": cfg.namespace,
            "cpus": res.get("CPU", 0.0),
            "gpus": res.get("GPU", 0.0),
            "object_store_mb": round(res.get("object_store_memory", 0.0) / 2**20),
            "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
            "auth_mode": auth,
        }
        # An embedded Ray (ours, or a one-node Ray another part of this process started without
        # an address) cannot grow: an actor that does not fit would wait forever.
        self.info["is_fixed_size"] = mode == "embedded" or (
            mode == "existing" and not self.address and self.info["nodes"] == 1
        )
        self.info["metrics_url"] = _metrics_url()
        log.info("ray %s: %s", mode, self.info)
        return self.info

    def stop(self) -> None:
        """Shut Ray down if :meth:`start` started it (idempotent)."""
        if self.owns_ray and ray.is_initialized():
            ray.shutdown()
        self.owns_ray = False

    def __enter__(self) -> RayHost:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _metrics_url() -> str | None:
    """This node's Prometheus endpoint (application metrics: ``aither_wm.runtime.metrics``),
    or None when Ray does not say (a client connection)."""
    try:
        node = ray._private.worker._global_node  # no public accessor in Ray 2.60
        port = node.metrics_export_port if node is not None else None
    except Exception:
        return None
    return f"http://{node.node_ip_address}:{port}/metrics" if port else None


def _visible_gpus() -> int:
    try:
        import torch

        return int(torch.cuda.device_count())
    except Exception:  # pragma: no cover - torch is a dependency; be safe anyway
        return 0
