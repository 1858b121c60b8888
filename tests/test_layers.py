"""The one-way dependencies of the design hold (import-linter contracts in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([exe], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "BROKEN" not in out.stdout
