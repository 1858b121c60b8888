"""One real Ray session per test module that asks for it (2 CPUs, a 150 MB object store, no
dashboard, token authentication left on as Ray sets it; a module may set ``RAY_RUNTIME_ENV``).
The node-loss module starts its own ``Cluster`` instead and does not use this fixture."""

import pytest
import ray


@pytest.fixture(scope="module")
def ray_session(request):
    if ray.is_initialized():  # a session left by a crashed module must not leak into this one
        ray.shutdown()
    ray.init(
        address="local",  # never join another Ray running on this host
        num_cpus=2,
        object_store_memory=150 * 1024 * 1024,
        include_dashboard=False,
        namespace="aither_wm_reliability_test",
        log_to_driver=False,
        runtime_env=getattr(request.module, "RAY_RUNTIME_ENV", None),
    )
    yield ray
    ray.shutdown()
