"""The audit log is append-only JSONL, flushed per record, and survives a torn last line."""

import json
import math

from aither_wm.control import AuditLog, read_audit


def test_records_are_visible_immediately_and_appends_never_rewrite(tmp_path):
    path = tmp_path / "audit" / "audit.jsonl"
    log = AuditLog(path)
    log.append(
        {"step": 1, "chosen": "cem", "cost": math.nan, "plans": {"cem": {"actions": (1, 2)}}}
    )
    first = path.read_bytes()  # flushed: readable before close
    assert first.endswith(b"\n") and first.count(b"\n") == 1
    rec = json.loads(first)
    assert (
        rec["schema_version"] == 1
        and rec["cost"] is None
        and rec["plans"]["cem"]["actions"] == [1, 2]
    )
    log.close()
    with AuditLog(path) as again:  # a second writer appends
        again.append({"step": 2})
    data = path.read_bytes()
    assert data.startswith(first) and data.count(b"\n") == 2


def test_torn_last_line_is_reported_not_raised(tmp_path):
    path = tmp_path / "audit.jsonl"
    with AuditLog(path, fsync=True) as log:
        for i in range(3):
            log.append({"step": i})
    with open(path, "ab") as f:
        f.write(b'{"step": 3, "cho')  # a crash mid-write
    report = read_audit(path)
    assert [r["step"] for r in report.records] == [0, 1, 2]
    assert report.bad_lines == [4]
