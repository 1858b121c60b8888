"""Progress and logs without Ray: the throttle of actor progress lines, the decision and training
lines of ``aither-wm run``, one tqdm bar at a time, and plugin warnings printed once, on one
line."""

import io
import logging
import warnings

import pytest

from aither_wm.apps.service import Every, decision_line, training_line
from aither_wm.cli.main import _one_line_warning
from aither_wm.progress import TqdmProgress
from aither_wm.registry import PluginWarning, Registry


def test_every_is_true_once_per_interval():
    now = [100.0]
    every = Every(10.0, clock=lambda: now[0])
    seen = []
    for t in (100.0, 101.0, 109.9, 110.0, 115.0, 121.0, 140.0):
        now[0] = t
        seen.append(every())
    assert seen == [True, False, False, True, False, True, True]


def test_training_and_decision_lines():
    assert training_line({"phase": "training", "step": 120, "total": 600, "loss": 0.01234}) == (
        "training: step 120/600, loss 0.01234"
    )
    record = {
        "step": 7,
        "chosen": "mcts",
        "action": {"type": "restart", "target": "cartservice"},
        "reason": "lowest predicted cost",
        "guard": {"allowed": False, "reasons": ["cooldown: cartservice acted 2 steps ago"]},
        "executed": False,
        "dry_run": True,
        "plans": {"cem": {"status": "timeout"}, "mcts": {"status": "ok", "cost": 1.23456}},
        "latency_ms": 41.6,
    }
    assert decision_line(record) == (
        "step 7: mcts -> restart(cartservice) (lowest predicted cost); guard refused: "
        "cooldown: cartservice acted 2 steps ago; dry-run | cem timeout, mcts 1.23 | 42 ms"
    )
    old = {
        "status": "error",
        "error": "invalid plan: weights v0 are older than min_weights_version 1",
    }
    untrained = {
        **record,
        "chosen": "fallback",
        "action": {"type": "noop", "target": None},
        "reason": "no valid plan (...): rule-based fallback",
        "guard": {"allowed": True, "reasons": []},
        "plans": {"cem": old, "mcts": old},
    }
    assert decision_line(untrained) == (
        "step 7: fallback -> noop (runbook: no trained model yet); guard ok; dry-run | "
        "cem untrained, mcts untrained | 42 ms"
    )


def test_one_bar_at_a_time_and_notes_never_run_into_it():
    out = io.StringIO()
    with TqdmProgress("t", file=out) as progress:
        progress("simulate", {"n": 5, "total": 10})
        progress("note", {"mode": "embedded"})  # while a bar is open: tqdm.write
        progress("train", {"n": 1, "total": 4})
        assert list(progress._bars) == ["train"]  # the simulate bar was closed
    assert "[t] note: mode=embedded\n" in out.getvalue()


class _BrokenEntryPoint:
    name, value, dist = "brokenplug", "brokenplug:plugin", None

    def load(self):
        raise ImportError("needs a library that is not installed")


def test_a_broken_plugin_is_warned_once_and_not_logged_twice(caplog, monkeypatch):
    import aither_wm.registry.core as core

    monkeypatch.setattr(core, "_entry_points", lambda group: [_BrokenEntryPoint()])
    with caplog.at_level(logging.INFO), pytest.warns(PluginWarning, match="brokenplug"):
        Registry().discover()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    text = _one_line_warning(PluginWarning("aither-wm plugin 'x' skipped: y"), PluginWarning)
    assert text == "aither-wm: PluginWarning: aither-wm plugin 'x' skipped: y\n"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):
            Registry().discover()
    assert len(caught) == 1  # the same warning, three discoveries: shown once
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        report = Registry().discover(allow={"nobody"})  # left out by choice: no warning
    assert "allowlist" in report.failed["brokenplug"]
