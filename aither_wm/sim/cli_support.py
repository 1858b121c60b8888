"""``aither-wm simulate``: simulate a graph into a transitions log, with a progress bar.

The CLI parses arguments and calls :func:`simulate_to_file`; this module holds the logic. The file
is written to ``OUT.partial`` and renamed into place when complete, so a crash never leaves a
half-written log under the final name; the same arguments give a byte-identical file.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from aither_wm.data.log import TransitionLogWriter
from aither_wm.errors import ConfigError
from aither_wm.graph.schema import load_graph
from aither_wm.sim.config import SimConfig
from aither_wm.sim.faults import FAULT_NAMES
from aither_wm.sim.scenarios import iter_episodes

__all__ = ["simulate_to_file"]


def simulate_to_file(
    graph_path: str | Path,
    *,
    steps: int,
    seed: int,
    faults: list[str] | None,
    out: str | Path,
    episode_steps: int = 100,
    progress: bool = True,
    config: SimConfig | None = None,
    append: bool = False,
) -> dict[str, Any]:
    """Simulate ``steps`` transitions of ``graph_path`` into the JSONL log ``out``.

    Args:
        steps: transitions to write in total (episodes of ``episode_steps``, the last shorter).
        seed: fixes everything: same arguments, same bytes.
        faults: fault names each episode draws from, besides "no fault" (None: all of them).
        out: the log file; replaced unless ``append``.
        progress: show a tqdm bar on stderr.
        append: append to an existing log instead of replacing it.

    Returns:
        a JSON-able summary: graph, out, transitions, episodes, fault counts, seconds.

    Raises:
        GraphError: the graph file is bad. ConfigError: bad counts or fault names.
        LogError: the output cannot be written.
    """
    if steps < 1 or episode_steps < 1:
        raise ConfigError(f"steps and episode_steps must be >= 1, got {steps} and {episode_steps}")
    unknown = sorted(set(faults or []) - set(FAULT_NAMES))
    if unknown:
        raise ConfigError(f"unknown faults {unknown}; expected some of {', '.join(FAULT_NAMES)}")
    if not Path(out).name:
        raise ConfigError(f"out must name a file, got {str(out)!r}")
    graph = load_graph(graph_path)
    episodes = math.ceil(steps / episode_steps)
    lengths = [episode_steps] * (episodes - 1) + [steps - episode_steps * (episodes - 1)]
    out = Path(out)
    target = out if append else out.with_name(out.name + ".partial")
    if not append and target.exists():
        target.unlink()
    counts: Counter[str] = Counter()
    written = 0
    start = time.perf_counter()
    bar = tqdm(
        total=steps,
        file=sys.stderr,
        disable=not progress,
        unit="step",
        desc=f"simulate {graph.name}",
    )
    with bar, TransitionLogWriter(target) as writer:
        for episode in iter_episodes(
            graph, episodes=episodes, steps=lengths, seed=seed, faults=faults, config=config
        ):
            written += writer.extend(episode.transitions)
            counts[episode.fault.name if episode.fault is not None else "none"] += 1
            bar.update(len(episode.transitions))
    if not append:
        os.replace(target, out)
    seconds = time.perf_counter() - start
    return {
        "graph": graph.name,
        "out": str(out),
        "seed": seed,
        "transitions": written,
        "episodes": episodes,
        "episode_steps": episode_steps,
        "faults": dict(sorted(counts.items())),
        "seconds": round(seconds, 3),
        "steps_per_s": round(written / seconds, 1) if seconds > 0 else None,
    }
