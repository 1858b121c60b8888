"""Helpers of the reliability tests (a plain module: its name is unique across test folders)."""

import tempfile
from pathlib import Path

from aither_wm.runtime import RuntimeConfig
from aither_wm.runtime.manifest import FIRST_PARTY_ENTRY_POINTS

ROOT = Path(__file__).resolve().parents[2]

#: Half a CPU per actor: a trainer, three planners and a controller fit on 2 CPUs.
RT = RuntimeConfig(
    namespace="aither_wm_reliability_test",
    planner_num_cpus=0.5,
    trainer_num_cpus=0.5,
    max_restarts=2,
)


def first_party_site() -> str:
    """A folder with a real dist-info declaring the first-party entry points (what ``pip
    install`` writes), so Ray workers discover the aither-sim state source through
    importlib.metadata."""
    site = Path(tempfile.mkdtemp(prefix="aither_rel_site_"))
    info = site / "aither_wm_first_party-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: aither-wm-first-party\nVersion: 0.1.0\n"
    )
    lines = "\n".join(f"{k} = {v}" for k, v in FIRST_PARTY_ENTRY_POINTS.items())
    (info / "entry_points.txt").write_text(f"[aither_wm.plugins]\n{lines}\n")
    return f"{site}:{ROOT / 'plugins'}"
