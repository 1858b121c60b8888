"""One real Ray session per test module (num_cpus=2, a 150 MB object store, no dashboard).

A module may set ``RAY_RUNTIME_ENV`` (e.g. a PYTHONPATH for plugin packages) to have it passed
to ``ray.init``. Token authentication is left as Ray sets it (on).
"""

import pytest
import ray


@pytest.fixture(scope="module")
def ray_session(request):
    if ray.is_initialized():  # a session left by a crashed module must not leak into this one
        ray.shutdown()
    runtime_env = getattr(request.module, "RAY_RUNTIME_ENV", None)
    ray.init(
        address="local",  # never join another Ray running on this host (a second suite, a user's)
        num_cpus=2,
        object_store_memory=150 * 1024 * 1024,
        include_dashboard=False,
        namespace="aither_wm_test",
        runtime_env=runtime_env,
    )
    yield ray
    ray.shutdown()
