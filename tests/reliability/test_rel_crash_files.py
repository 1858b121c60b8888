"""Processes SIGKILLed mid-append and mid-checkpoint (real child processes, no Ray).

* transitions log: every line the child acknowledged survives, in order and byte-equal; the reader
  reports the torn tail of a half-written line and keeps every complete one; the next writer
  terminates the torn line and appends after it (the torn line stays one bad line);
* checkpoint: killed while the new checkpoint's temporary file is written but not renamed, the file
  on disk is byte-for-byte the previous good one and loads (``weights_only``); killed at a random
  moment of a save loop of an 11 MB checkpoint, the file always loads, at the last acknowledged
  version or a later complete one.
"""

import pytest

from aither_wm.bench.reliability import crash_mid_append, crash_mid_checkpoint
from aither_wm.data.log import read_transitions


def test_killed_mid_line_keeps_every_complete_line_and_reports_the_torn_tail(tmp_path):
    row = crash_mid_append(tmp_path, mode="tear", lines=40)
    assert row["transitions_lost"] == 0 and row["complete_lines"] == row["acknowledged"] == 20
    assert row["torn_tail"] and [n for n, _ in row["bad_lines"]] == [21]
    assert row["bad_lines"][0][1].startswith("torn last line")
    after = read_transitions(tmp_path / "log-tear.jsonl")  # after the recovery append
    assert len(after.transitions) == 21 and [n for n, _ in after.bad_lines] == [21]
    assert not after.torn_tail and row["recovered"]


@pytest.mark.parametrize("seed", [1])
def test_killed_at_a_random_moment_loses_no_acknowledged_line(tmp_path, seed):
    row = crash_mid_append(tmp_path, mode="random", lines=80, seed=seed)
    assert row["transitions_lost"] == 0 and row["complete_lines"] >= row["acknowledged"]
    assert len(row["bad_lines"]) <= 1 and row["recovered"], row


def test_killed_mid_checkpoint_leaves_the_previous_good_checkpoint(tmp_path):
    row = crash_mid_checkpoint(tmp_path, mode="stall")
    assert row["version_on_disk"] == 1 and row["error"] is None and row["recovered"], row
    assert row["stale_temp_files"] == 1  # the interrupted temporary file, never read


def test_killed_at_a_random_moment_of_a_save_loop_always_loads(tmp_path):
    row = crash_mid_checkpoint(tmp_path, mode="random", seed=3)
    assert row["error"] is None and row["version_on_disk"] >= row["acknowledged_version"] >= 2
    assert row["recovered"], row
