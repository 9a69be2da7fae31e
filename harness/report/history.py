"""Outcomes across runs: the history file, and triage of failures as reproducible or flaky.

history.jsonl holds one small JSON object per run (outcome, duration and sync counts per
test, plus the root seed). It is the only file the report ever appends to, so it is written
by rewriting a temp file and `os.replace`-ing it: a crash or a full disk leaves the previous
history whole instead of a truncated one. A failure is *reproducible* when another run with
the same seed also failed that test, *flaky* when one with the same seed passed it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.report.model import SCHEMA_VERSION, ResultsError

MAX_RUNS = 500  # records kept; older runs are dropped when a new one is appended
SHOWN_RUNS = 10  # outcomes per behaviour x target shown in the report
PASSING = ("pass", "hazard")


def run_record(results: dict[str, Any]) -> dict[str, Any]:
    """The small per-run summary appended to the history (no samples, no logs)."""
    run = results.get("run", {})
    tests: dict[str, Any] = {}
    for test in results.get("tests", []):
        ledger = test.get("ledger", [])
        tests[test["nodeid"]] = {
            "outcome": test["outcome"],
            "duration": test.get("duration", 0.0),
            "full": sum(1 for row in ledger if row.get("kind") == "full"),
            "partial": sum(1 for row in ledger if row.get("kind") == "partial"),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.get("id", ""),
        "time": run.get("finished") or time.time(),
        "seed": run.get("seed"),
        "tests": tests,
    }


def load_history(path: Path, strict: bool) -> list[dict[str, Any]]:
    """Parse history.jsonl. strict: any bad line is a ResultsError; else bad lines are skipped.

    A missing file is an empty history (the first run), unless strict mode was asked to read
    a file the user named explicitly, which the CLI checks itself.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        if strict:
            raise ResultsError(f"cannot read history file {path}: {exc}") from None
        return []
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if strict:
                raise ResultsError(f"history file {path} line {number} is not valid JSON") from None
            continue
        if not isinstance(record, dict) or not isinstance(record.get("tests"), dict):
            if strict:
                raise ResultsError(f"history file {path} line {number} is not a run record")
            continue
        records.append(record)
    return records


def append_history(path: Path, record: dict[str, Any], max_runs: int = MAX_RUNS) -> None:
    """Append one run atomically: old content + new line -> temp file -> fsync -> os.replace.

    Existing lines are copied byte for byte (even ones this version cannot parse) so a newer
    or damaged history is never silently rewritten; only the oldest runs beyond `max_runs`
    are dropped.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.read_bytes()
    except FileNotFoundError:
        old = b""
    lines = [line for line in old.splitlines() if line.strip()]
    lines.append(json.dumps(record, separators=(",", ":"), sort_keys=True).encode())
    lines = lines[-max_runs:]
    atomic_write(path, b"\n".join(lines) + b"\n")


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory and os.replace (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:  # mkstemp makes 0600 files; a report is meant to be read by others (CI viewers)
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _ordered(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(history, key=lambda r: float(r.get("time") or 0))


def triage(nodeid: str, outcome: str, seed: Any, run_id: str,
           history: list[dict[str, Any]], started: float | None = None) -> tuple[str | None, bool]:
    """(label, new_failure) for one test of the run `run_id`.

    label is None for tests that did not fail; for failures: "reproducible" (another run with
    the same seed failed too), "flaky" (another run with the same seed passed), or
    "unconfirmed" (no other run with this seed yet). The most recent same-seed run decides.
    new_failure: the last run of this test that began before `started` did not fail it.
    """
    if outcome != "fail":
        return None, False
    label = "unconfirmed"
    previous_outcome = None
    for record in _ordered(history):
        if record.get("run_id") == run_id:
            continue
        entry = record.get("tests", {}).get(nodeid)
        if not isinstance(entry, dict):
            continue
        other = entry.get("outcome")
        if record.get("seed") == seed and seed is not None:
            if other == "fail":
                label = "reproducible"
            elif other in PASSING:
                label = "flaky"
        if started is None or float(record.get("time") or 0) < float(started):
            previous_outcome = other
    return label, previous_outcome != "fail"


def strip(nodeid: str, history: list[dict[str, Any]], shown: int = SHOWN_RUNS) -> list[dict[str, Any]]:
    """The last `shown` outcomes of a test, oldest first, for the little history strip."""
    items = []
    for record in _ordered(history):
        entry = record.get("tests", {}).get(nodeid)
        if isinstance(entry, dict) and "outcome" in entry:
            items.append({
                "run_id": record.get("run_id", ""),
                "time": record.get("time"),
                "seed": record.get("seed"),
                "outcome": entry["outcome"],
            })
    return items[-shown:]


def apply(results: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Fill each test's `triage`, `new_failure` and `history` from a history that includes
    (or not) this run's own record; this run's outcome is always the strip's last item."""
    run = results.get("run", {})
    run_id = run.get("id", "")
    seed = run.get("seed")
    others = [r for r in history if r.get("run_id") != run_id]
    for test in results.get("tests", []):
        label, new = triage(test["nodeid"], test["outcome"], seed, run_id, others, run.get("started"))
        test["triage"] = label
        test["new_failure"] = new
        earlier = [r for r in others if run.get("started") is None
                   or float(r.get("time") or 0) < float(run["started"])]
        items = strip(test["nodeid"], earlier, SHOWN_RUNS - 1)
        items.append({"run_id": run_id, "time": run.get("finished"), "seed": seed,
                      "outcome": test["outcome"]})
        test["history"] = items
