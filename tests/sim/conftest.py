"""Shared fixtures of the simulator tests: the shipped graphs, loaded once per session."""

from pathlib import Path

import pytest

from aither_wm.graph import load_graph

GRAPHS_DIR = Path(__file__).resolve().parents[2] / "graphs"
SHIPPED = sorted(p.stem for p in GRAPHS_DIR.glob("*.json"))


@pytest.fixture(scope="session")
def graphs_dir() -> Path:
    return GRAPHS_DIR


@pytest.fixture(scope="session")
def boutique():
    return load_graph(GRAPHS_DIR / "online-boutique.json")


@pytest.fixture(scope="session")
def sockshop():
    return load_graph(GRAPHS_DIR / "sock-shop.json")


@pytest.fixture(scope="session")
def social():
    return load_graph(GRAPHS_DIR / "deathstarbench-socialnetwork.json")


@pytest.fixture(scope="session")
def hotel():
    return load_graph(GRAPHS_DIR / "deathstarbench-hotelreservation.json")
