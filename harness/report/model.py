"""The report's data model: from pytest reports and recorders to JSON-ready test records.

Everything here produces plain dicts of JSON types because the same record travels three
ways: from an xdist worker to the controller (execnet only carries basic types), into
results.json, and back out of results.json when `python -m harness report` rebuilds the page.
The schema is documented in docs/report.md; bump SCHEMA_VERSION when a field changes meaning.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report.redact import redact, redact_value

SCHEMA_VERSION = 1

# outcome -> label shown in the matrix; order is the "worst first" order used for summaries
OUTCOMES: dict[str, str] = {
    "fail": "fail",
    "hazard": "hazard",
    "xfail": "expected failure",
    "skipped": "skipped",
    "pass": "pass",
}

LONGREPR_LIMIT = 12_000  # characters kept of a failure's traceback (head and tail)
LOG_TAIL_LINES = 60
MAX_EVENTS = 500


class ResultsError(Exception):
    """results.json or history is missing, unreadable or not ours; the message is one line."""


# --- names --------------------------------------------------------------------------------
def split_nodeid(nodeid: str) -> tuple[str, str, str]:
    """`suites/test_x.py::test_y[redis-7.0.15]` -> (module path, function, param id)."""
    base, param = nodeid, ""
    match = re.fullmatch(r"(.*?)\[(.*)\]", nodeid, flags=re.S)
    if match:
        base, param = match.group(1), match.group(2)
    module, _, function = base.partition("::")
    return module, function or base, param


def title_from_name(name: str, prefix: str = "test_") -> str:
    """`test_full_sync` -> `Full sync`: a readable fallback when a test has no docstring."""
    stem = name.rsplit("/", 1)[-1].rsplit("::", 1)[-1]
    if stem.endswith(".py"):
        stem = stem[:-3]
    if stem.startswith(prefix):
        stem = stem[len(prefix):]
    words = stem.replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def anchor(nodeid: str) -> str:
    """A stable HTML id for a test (the matrix links to it)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", nodeid).strip("-").lower()
    return "t-" + slug[:120]


def first_line(text: str | None) -> str:
    for line in (text or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def truncate(text: str, limit: int = LONGREPR_LIMIT) -> str:
    """Keep the head (where the test is) and the tail (where the assertion is) of long text."""
    if len(text) <= limit:
        return text
    head = limit // 3
    tail = limit - head
    skipped = len(text) - head - tail
    return f"{text[:head]}\n\n[... {skipped} characters left out ...]\n\n{text[-tail:]}"


# --- phases -> one outcome -----------------------------------------------------------------
@dataclass
class PhaseReport:
    """What the controller keeps of one pytest TestReport (setup, call or teardown)."""

    when: str
    outcome: str  # pytest's: passed / failed / skipped
    duration: float
    longrepr: str = ""
    message: str = ""
    wasxfail: str | None = None
    start: float | None = None
    line: int = 0  # where the test function is, to keep the suite's order in the matrix


@dataclass
class Collected:
    nodeid: str
    phases: dict[str, PhaseReport] = field(default_factory=dict)
    record: dict[str, Any] | None = None  # built on the worker from the recorder


def phase_from_report(report: Any) -> PhaseReport:
    """Extract what we need from a TestReport (on the controller, possibly from xdist)."""
    longrepr = ""
    message = ""
    raw = getattr(report, "longrepr", None)
    if report.outcome == "skipped" and isinstance(raw, tuple) and len(raw) == 3:
        message = str(raw[2])
        if message.startswith("Skipped: "):
            message = message[len("Skipped: "):]
    elif raw is not None:
        try:
            longrepr = str(report.longreprtext)
        except Exception:  # noqa: BLE001 - an odd longrepr must not break the report
            longrepr = str(raw)
        crash = getattr(raw, "reprcrash", None)
        message = getattr(crash, "message", "") or _assert_line(longrepr)
    wasxfail = getattr(report, "wasxfail", None)
    return PhaseReport(
        when=report.when,
        outcome=report.outcome,
        duration=float(getattr(report, "duration", 0.0) or 0.0),
        longrepr=longrepr,
        message=message,
        wasxfail=str(wasxfail) if wasxfail is not None else None,
        start=getattr(report, "start", None),
        line=_line(report),
    )


def _line(report: Any) -> int:
    location = getattr(report, "location", None)
    try:
        return int(location[1] or 0) if location else 0
    except (TypeError, ValueError, IndexError):
        return 0


def _assert_line(longrepr: str) -> str:
    lines = [line[1:].strip() for line in longrepr.splitlines() if line.startswith("E ")]
    return lines[0] if lines else first_line(longrepr.splitlines()[-1] if longrepr else "")


def decide_outcome(phases: dict[str, PhaseReport], hazards: list[str]) -> tuple[str, str, str, str]:
    """(outcome, phase that decided it, one-line message, longrepr) for one test."""
    setup, call, teardown = phases.get("setup"), phases.get("call"), phases.get("teardown")
    for phase in (setup, call):
        if phase is None:
            continue
        if phase.wasxfail is not None and phase.outcome == "skipped":
            reason = phase.wasxfail.removeprefix("reason: ") or "expected failure"
            return "xfail", phase.when, reason, phase.longrepr
        if phase.outcome == "skipped":
            return "skipped", phase.when, phase.message or "skipped", ""
        if phase.outcome == "failed":
            msg = phase.message or "failed"
            if phase.when == "setup":
                msg = f"error in setup: {msg}"
            return "fail", phase.when, msg, phase.longrepr
    if teardown is not None and teardown.outcome == "failed":
        return "fail", "teardown", f"error in teardown: {teardown.message or 'failed'}", teardown.longrepr
    if call is None:
        return "skipped", "setup", "not run (session interrupted)", ""
    note = ""
    if call.wasxfail is not None:
        note = f"unexpectedly passed (marked xfail: {call.wasxfail.removeprefix('reason: ')})"
    if hazards:
        return "hazard", "call", hazards[0] if not note else note, ""
    return "pass", "call", note, ""


# --- worker side: recorder -> record ---------------------------------------------------------
def record_from_recorder(recorder: Any, logs: dict[str, str] | None = None,
                         description: str = "", family_description: str = "") -> dict[str, Any]:
    """The JSON-safe part of a TestRecorder, built where the recorder lives (the worker)."""
    started = float(getattr(recorder, "started", time.time()))
    samples = [
        [round(s.t - started, 3), s.node, _jsonable(s.fields)]
        for s in list(getattr(recorder, "samples", []))
    ]
    events = [_jsonable(ev.to_dict()) for ev in list(getattr(recorder, "events", []))[:MAX_EVENTS]]
    nodes = [
        {"name": ref.name, "label": ref.label, "address": ref.address}
        for ref in getattr(recorder, "nodes", {}).values()
    ]
    meta = _jsonable(dict(getattr(recorder, "meta", {})))
    record: dict[str, Any] = redact_value({
        "started": started,
        "nodes": nodes,
        "events": events,
        "samples": samples,
        "ledger": [_jsonable(row) for row in list(getattr(recorder, "ledger", []))],
        "hazards": [str(h) for h in getattr(recorder, "hazards", [])],
        "meta": meta,
        "logs": dict(logs or {}),
    })
    # Docstrings are source code, not secrets, and read like "masterauth on the replica":
    # redacting them would only garble the conformance statement.
    for key in ("family", "behaviour"):
        if isinstance(meta.get(key), str):
            record["meta"][key] = meta[key]
    record["description"] = description
    record["family_description"] = family_description
    return record


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _jsonable(value: Any) -> Any:
    """Coerce to JSON types (sets, tuples, bytes, enums and objects become lists or strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, str | int):
        return enum_value
    return str(value)


# --- controller side: collected -> test entry ---------------------------------------------
def build_test(collected: Collected, seed: int | None, rerun: str) -> dict[str, Any]:
    """One entry of results.json `tests`."""
    record = collected.record or {}
    meta = record.get("meta", {})
    module, function, param = split_nodeid(collected.nodeid)
    hazards = list(record.get("hazards", []))
    outcome, phase, message, longrepr = decide_outcome(collected.phases, hazards)
    duration = sum(p.duration for p in collected.phases.values())
    started = record.get("started")
    if started is None:
        starts = [p.start for p in collected.phases.values() if p.start]
        started = min(starts) if starts else None
    target = str(meta.get("server") or param or "")
    variant = record.get("variant")
    if variant is None:  # no record from the worker: whatever the id holds besides the target
        variant = param.replace(target, "", 1).strip("-") if target and target in param else ""
    key = f"{module}::{function}" + (f"[{variant}]" if variant else "")
    behaviour = title_from_name(function) + (f" ({variant})" if variant else "")
    line = max((p.line for p in collected.phases.values()), default=0)
    return {
        "nodeid": collected.nodeid,
        "id": anchor(collected.nodeid),
        "line": line,
        "module": module,
        "function": function,
        "behaviour_key": key,
        "variant": variant,
        "family": str(meta.get("family") or title_from_name(module)),
        "family_description": record.get("family_description", ""),
        "behaviour": behaviour,
        "description": str(meta.get("behaviour") or record.get("description") or title_from_name(function)),
        "target": target,
        "outcome": outcome,
        "phase": phase,
        "message": redact(message)[:600],
        "longrepr": redact(truncate(longrepr)),
        "duration": round(duration, 3),
        "started": started,
        "seed": seed,
        "rerun": redact(rerun),
        "nodes": record.get("nodes", []),
        "events": record.get("events", []),
        "samples": record.get("samples", []),
        "ledger": record.get("ledger", []),
        "hazards": hazards,
        "logs": record.get("logs", {}),
        "meta": meta,
        "triage": None,
        "new_failure": False,
        "history": [],
    }


def suite_order(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Files in path order, tests in source order (the order the suite tells its story)."""
    return sorted(tests, key=lambda t: (t.get("module", ""), t.get("line", 0), t["nodeid"]))


def summarize(tests: list[dict[str, Any]]) -> dict[str, int]:
    counts = {key: 0 for key in OUTCOMES}
    for test in tests:
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    counts["total"] = len(tests)
    return counts


def target_order(declared: list[str], tests: list[dict[str, Any]]) -> list[str]:
    """Matrix columns: the session's targets in their order, then any other labels seen."""
    labels = list(dict.fromkeys(declared))
    for test in tests:
        if test["target"] not in labels:
            labels.append(test["target"])
    return labels


# --- results.json I/O ----------------------------------------------------------------------
def load_results(path: Path) -> dict[str, Any]:
    """Read and sanity-check results.json; any problem is a ResultsError with a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"results file {path} does not exist (run `pytest suites/` first)") from None
    except UnicodeDecodeError as exc:
        raise ResultsError(f"results file {path} is not valid JSON (not UTF-8 text: {exc.reason})") from None
    except OSError as exc:
        raise ResultsError(f"cannot read results file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"results file {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ResultsError(f"results file {path} is not a harness results.json (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ResultsError(
            f"results file {path} has schema_version {version!r}; this harness reads up to {SCHEMA_VERSION}"
        )
    tests = data.get("tests")
    if not isinstance(tests, list) or not all(
        isinstance(t, dict) and isinstance(t.get("nodeid"), str) and t.get("outcome") in OUTCOMES
        for t in tests
    ):
        raise ResultsError(f"results file {path} has a malformed `tests` list")
    return data
