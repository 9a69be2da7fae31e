"""Outcome decisions, names, truncation, redaction and results.json validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.recorder import TestRecorder
from harness.report import model
from harness.report.model import PhaseReport, ResultsError
from harness.report.redact import MASK, redact, redact_value


def phase(when: str, outcome: str, **kw: object) -> PhaseReport:
    return PhaseReport(when, outcome, 0.1, **kw)  # type: ignore[arg-type]


def test_split_nodeid_separates_module_function_and_target() -> None:
    assert model.split_nodeid("suites/test_full_sync.py::test_snapshot[redis-7.0.15]") == (
        "suites/test_full_sync.py", "test_snapshot", "redis-7.0.15")
    assert model.split_nodeid("suites/a.py::test_b[mixed:redis-7.0.15>pyredis]")[2] == "mixed:redis-7.0.15>pyredis"
    assert model.split_nodeid("suites/a.py::test_b") == ("suites/a.py", "test_b", "")


def test_titles_fall_back_to_readable_names() -> None:
    assert model.title_from_name("suites/test_full_sync.py") == "Full sync"
    assert model.title_from_name("test_snapshot_carries_data") == "Snapshot carries data"


@pytest.mark.parametrize(
    ("phases", "hazards", "expected"),
    [
        ({"setup": phase("setup", "passed"), "call": phase("call", "passed"),
          "teardown": phase("teardown", "passed")}, [], "pass"),
        ({"setup": phase("setup", "passed"), "call": phase("call", "passed"),
          "teardown": phase("teardown", "passed")}, ["lost writes"], "hazard"),
        ({"setup": phase("setup", "passed"), "call": phase("call", "failed", message="boom")}, [], "fail"),
        ({"setup": phase("setup", "failed", message="port busy")}, [], "fail"),
        ({"setup": phase("setup", "skipped", message="needs 7.0")}, [], "skipped"),
        ({"setup": phase("setup", "passed"), "call": phase("call", "skipped", wasxfail="gap")}, [], "xfail"),
        ({"setup": phase("setup", "passed"), "call": phase("call", "passed"),
          "teardown": phase("teardown", "failed", message="leak")}, [], "fail"),
    ],
)
def test_decide_outcome(phases: dict[str, PhaseReport], hazards: list[str], expected: str) -> None:
    outcome, _, message, _ = model.decide_outcome(phases, hazards)
    assert outcome == expected
    assert message or expected == "pass"


def test_setup_and_teardown_errors_say_so() -> None:
    _, when, message, _ = model.decide_outcome({"setup": phase("setup", "failed", message="port busy")}, [])
    assert (when, message) == ("setup", "error in setup: port busy")


def test_truncate_keeps_head_and_tail() -> None:
    text = "HEAD" + "x" * 50_000 + "TAIL"
    short = model.truncate(text, 1000)
    assert short.startswith("HEAD") and short.endswith("TAIL") and "characters left out" in short
    assert len(short) < 1100


def test_record_from_recorder_is_json_and_redacted() -> None:
    rec = TestRecorder("suites/a.py::test_b[x]")
    rec.event("fault", "latency", "r1->m", latency=100, password="hunter2")
    rec.sample("m", {"role": "master", "master_repl_offset": 5, "reachable": True})
    rec.hazard("acknowledged writes lost")
    rec.add_ledger({"kind": "full", "what": "CONFIG SET masterauth s3cret"})
    record = model.record_from_recorder(rec, {"m": "requirepass s3cret\nready"}, "desc")
    text = json.dumps(record)
    assert "hunter2" not in text and "s3cret" not in text
    assert record["samples"][0][1] == "m" and record["hazards"] == ["acknowledged writes lost"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("requirepass s3cret", "s3cret"),
        ('CONFIG SET masterauth "two words"', "two words"),
        ("--redis-password=topsecret --seed=3", "topsecret"),
        ("http://bob:pa55@127.0.0.1:8474/proxies", "pa55"),
        ('1700000000.1 [0 127.0.0.1:5] "auth" "letmein"', "letmein"),
        ("AUTH default letmein", "letmein"),
        ("{'password': 'abc123'}", "abc123"),
    ],
)
def test_redact_hides_secrets(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out and MASK in out


def test_redact_keeps_ordinary_text() -> None:
    text = "NOAUTH Authentication required. masteruser replicator; role:slave"
    assert redact(text) == text
    assert redact_value({"masterauth": "x", "port": 6379}) == {"masterauth": MASK, "port": 6379}


def test_load_results_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    with pytest.raises(ResultsError, match="does not exist"):
        model.load_results(path)
    path.write_text("{not json")
    with pytest.raises(ResultsError, match="not valid JSON"):
        model.load_results(path)
    path.write_text(json.dumps({"tests": []}))
    with pytest.raises(ResultsError, match="no schema_version"):
        model.load_results(path)
    path.write_text(json.dumps({"schema_version": 99, "tests": []}))
    with pytest.raises(ResultsError, match="schema_version 99"):
        model.load_results(path)
    path.write_text(json.dumps({"schema_version": 1, "tests": [{"nodeid": "a", "outcome": "weird"}]}))
    with pytest.raises(ResultsError, match="malformed"):
        model.load_results(path)
    for exc_text in ("does not exist", "not valid JSON"):
        assert "\n" not in exc_text


def test_synthetic_results_round_trip(tmp_path: Path, synthetic) -> None:  # type: ignore[no-untyped-def]
    results = synthetic()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    loaded = model.load_results(path)
    assert {t["outcome"] for t in loaded["tests"]} == set(model.OUTCOMES)
    assert loaded["summary"]["total"] == len(loaded["tests"]) == 12


def test_prose_and_docstrings_are_not_garbled() -> None:
    text = "requirepass on the master and the right masterauth on the replica; AUTH failed"
    assert redact(text) == text
    rec = TestRecorder("suites/test_auth.py::test_x[y]")
    rec.meta.update(family="Password auth: `masterauth` must match", behaviour="masterauth s3cret-looking prose")
    record = model.record_from_recorder(rec, {}, "Wrong masterauth x then CONFIG SET fixes it", "requirepass abc")
    assert record["description"] == "Wrong masterauth x then CONFIG SET fixes it"
    assert record["family_description"] == "requirepass abc"
    assert record["meta"]["behaviour"] == "masterauth s3cret-looking prose"
