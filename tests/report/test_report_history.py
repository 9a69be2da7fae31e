"""History file: atomic appends, tolerant and strict reading, reproducible/flaky triage."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.report import history as hist
from harness.report.model import ResultsError

FAILING = "suites/test_incremental_sync.py::test_partial_resync_after_short_drop[redis-7.0.15]"


def record(run_id: str, time: float, seed: int, outcome: str, nodeid: str = FAILING) -> dict[str, Any]:
    return {"schema_version": 1, "run_id": run_id, "time": time, "seed": seed,
            "tests": {nodeid: {"outcome": outcome, "duration": 1.0, "full": 1, "partial": 0}}}


def test_append_keeps_old_lines_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(b'{"future":"format","tests":{}}\nnot json at all\n')
    hist.append_history(path, record("a", 1.0, 7, "fail"))
    lines = path.read_bytes().splitlines()
    assert lines[:2] == [b'{"future":"format","tests":{}}', b"not json at all"]
    assert json.loads(lines[2])["run_id"] == "a"
    # tolerant reading skips the junk line; strict reading names it
    assert [r.get("run_id") for r in hist.load_history(path, strict=False)] == [None, "a"]
    with pytest.raises(ResultsError, match="line 2 is not valid JSON"):
        hist.load_history(path, strict=True)


def test_failed_write_leaves_history_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.jsonl"
    hist.append_history(path, record("a", 1.0, 7, "pass"))
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        hist.append_history(path, record("b", 2.0, 7, "fail"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["history.jsonl"]  # temp file removed


def test_history_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    for i in range(7):
        hist.append_history(path, record(f"r{i}", float(i), i, "pass"), max_runs=5)
    assert [r["run_id"] for r in hist.load_history(path, strict=True)] == ["r2", "r3", "r4", "r5", "r6"]


def test_triage_reproducible_flaky_unconfirmed() -> None:
    history = [record("old", 1.0, 11, "pass")]
    assert hist.triage(FAILING, "fail", 7, "now", history, started=5.0) == ("unconfirmed", True)
    # the nightly rerun with the same seed (after this run) failed again
    history.append(record("rerun", 9.0, 7, "fail"))
    assert hist.triage(FAILING, "fail", 7, "now", history, started=5.0) == ("reproducible", True)
    # ... or passed
    history[-1] = record("rerun", 9.0, 7, "pass")
    assert hist.triage(FAILING, "fail", 7, "now", history, started=5.0) == ("flaky", True)
    # it already failed in the previous run: not a new failure
    history.insert(0, record("older", 0.5, 3, "fail"))
    history[1] = record("old", 1.0, 11, "fail")
    assert hist.triage(FAILING, "fail", 7, "now", history, started=5.0)[1] is False
    assert hist.triage(FAILING, "pass", 7, "now", history) == (None, False)


def test_apply_fills_triage_and_strip(synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic(run_id="now", started=1000.0, seed=5)
    history = [record(f"r{i}", float(i), 5 if i == 3 else i, "pass" if i % 2 else "fail")
               for i in range(1, 14)]
    history.append(record("later", 2000.0, 5, "fail"))
    hist.apply(results, history)
    failing = next(t for t in results["tests"] if t["nodeid"] == FAILING)
    assert failing["triage"] == "reproducible"  # run "later" (seed 5) failed it too
    assert len(failing["history"]) == hist.SHOWN_RUNS
    assert failing["history"][-1] == {"run_id": "now", "time": results["run"]["finished"], "seed": 5,
                                      "outcome": "fail"}
    assert all(item["run_id"] != "later" for item in failing["history"])  # only earlier runs
    passing = next(t for t in results["tests"] if t["outcome"] == "pass")
    assert passing["triage"] is None and passing["history"][-1]["outcome"] == "pass"


def test_run_record_is_small(synthetic) -> None:  # type: ignore[no-untyped-def]
    rec = hist.run_record(synthetic())
    assert set(rec) == {"schema_version", "run_id", "time", "seed", "tests"}
    entry = rec["tests"][FAILING]
    assert entry["outcome"] == "fail" and entry["full"] == 1
    assert len(json.dumps(rec)) < 4000
