"""The presets and defaults: Ray-free, one place, and what the command line shows."""

import subprocess
import sys

from aither_wm.apps.defaults import DEFAULT_CHECKPOINT
from aither_wm.apps.presets import FULL, MEDIUM_MODEL, QUICK, SMALL_MODEL
from aither_wm.runtime.plugin import PluginConfig


def test_presets_and_defaults_import_without_ray():
    code = (
        "import sys, aither_wm.apps.presets, aither_wm.apps.defaults, aither_wm.cli;"
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_demo_sizes_use_the_named_models():
    assert QUICK.model is SMALL_MODEL and FULL.model is MEDIUM_MODEL
    assert QUICK.train.steps < FULL.train.steps and len(QUICK.faults) < len(FULL.faults)
    assert QUICK.guard.dry_run is False  # the demo acts


def test_the_train_command_writes_the_checkpoint_the_service_loads():
    assert PluginConfig().checkpoint == DEFAULT_CHECKPOINT
