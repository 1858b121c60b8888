"""Shared fixtures of the evaluation-harness tests."""

from pathlib import Path

import pytest

from aither_wm.graph import load_graph

GRAPHS_DIR = Path(__file__).resolve().parents[2] / "graphs"


@pytest.fixture(scope="session")
def boutique():
    return load_graph(GRAPHS_DIR / "online-boutique.json")
