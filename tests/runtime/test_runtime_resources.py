"""Actor CPU shares derived from the CPUs Ray has, and the check before anything starts.

Known answers (no Ray), then the default configuration on a real 2-CPU embedded Ray: every
configured planner (CEM and MCTS) starts and plans.
"""

import pytest
import ray

from aither_wm.errors import ConfigError
from aither_wm.runtime import AitherPlugin, PluginConfig, RuntimeConfig
from aither_wm.runtime.resources import check_schedulable, derive_resources


def test_unset_requests_get_full_size_when_everything_fits():
    r = derive_resources(cpus=4, planners=2)
    assert (r.trainer_cpus, r.planner_cpus, r.total_cpus) == (1.0, 1.0, 3.0)
    assert r.derived == ("trainer_num_cpus", "planner_num_cpus")
    assert derive_resources(cpus=8, planners=2, use_encoder=True).encoder_cpus == 0.5


def test_unset_requests_shrink_by_one_factor_to_fit_a_small_machine():
    r = derive_resources(cpus=2, planners=2)  # 3 CPUs wanted, 2 there: factor 2/3, floored
    assert (r.trainer_cpus, r.planner_cpus) == (0.66, 0.66)
    assert r.total_cpus <= 2.0
    one = derive_resources(cpus=1, planners=2, use_encoder=True)  # 3.5 wanted on 1 CPU
    assert one.planner_cpus == 0.28 and one.encoder_cpus == 0.14 and one.total_cpus <= 1.0
    check_schedulable(one, cpus=1, gpus=0, is_fixed_size=True)  # fits: no error


def test_set_requests_are_kept_and_the_rest_fills_what_is_left():
    r = derive_resources(cpus=2, planners=2, trainer_cpus=1.0)
    assert r.trainer_cpus == 1.0 and r.planner_cpus == 0.5 and r.derived == ("planner_num_cpus",)
    r = derive_resources(cpus=2, planners=2, controller_cpus=0.5)
    assert r.total_cpus <= 2.0 and r.planner_cpus == 0.5


def test_a_configuration_that_cannot_be_scheduled_is_an_error_on_a_fixed_size_ray():
    r = derive_resources(cpus=2, planners=2, trainer_cpus=1.0, planner_cpus=1.0)
    with pytest.raises(ConfigError, match=r"reserve .* = 3 CPUs but Ray has 2 CPUs"):
        check_schedulable(r, cpus=2, gpus=0, is_fixed_size=True)
    note = check_schedulable(r, cpus=2, gpus=0, is_fixed_size=False)  # a cluster may grow
    assert note and "scale up" in note
    gpu = derive_resources(cpus=4, planners=2, trainer_gpus=1.0)
    with pytest.raises(ConfigError, match="trainer asks for 1 GPU but Ray has 0"):
        check_schedulable(gpu, cpus=4, gpus=0, is_fixed_size=True)


def test_plugin_refuses_an_unschedulable_config_before_ray_starts(tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    rt = RuntimeConfig(num_cpus=2, trainer_num_cpus=1.0, planner_num_cpus=1.0)
    plugin = AitherPlugin(PluginConfig(runtime=rt, checkpoint=str(tmp_path / "wm.pt")))
    with pytest.raises(ConfigError, match="cannot schedule"):
        plugin.start()
    assert not ray.is_initialized()


def test_default_configuration_starts_every_planner_on_a_2_cpu_ray(tmp_path):
    """The default PluginConfig (CEM and MCTS planners, default model, derived shares) on an
    embedded Ray with 2 CPUs: every actor starts and both planners plan."""
    if ray.is_initialized():
        ray.shutdown()
    cfg = PluginConfig(
        runtime=RuntimeConfig(num_cpus=2, namespace="aither_wm_resources_test"),
        checkpoint=str(tmp_path / "wm.pt"),
        trainer_transitions_log=str(tmp_path / "trainer.jsonl"),
    )
    assert set(cfg.planners) == {"cem", "mcts"}
    plugin = AitherPlugin(cfg)
    try:
        plugin.start()
        assert plugin.host.info["cpus"] == 2 and plugin.resources.total_cpus <= 2
        health = plugin.health(timeout_s=30)
        assert health["status"] == "ok", health
        assert {"planner.cem", "planner.mcts"} <= set(health["actors"])
        from aither_wm.graph import MeshState, nominal_service_state

        g = plugin.graph
        state = MeshState(
            graph=g.name, step=0, services={s: nominal_service_state() for s in g.services}
        )
        for name in ("cem", "mcts"):
            reply = plugin.plan(state, planner=name, timeout_s=120)
            assert reply.planner == name and reply.first_action >= 0
    finally:
        plugin.stop()
    assert not ray.is_initialized()
