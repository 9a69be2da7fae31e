"""`python -m harness report` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.report import history as hist
from harness.report.writer import outputs_in, write_run

ROOT = Path(__file__).resolve().parents[2]


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "report", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_missing_and_corrupt_results(tmp_path: Path) -> None:
    one_line_error(harness(cwd=tmp_path), "does not exist")
    (tmp_path / "r.json").write_text('{"schema_version": 1, "tests": [')
    one_line_error(harness("--results", "r.json", cwd=tmp_path), "not valid JSON")
    (tmp_path / "r.json").write_bytes(b"\xff\xfe\x00garbage")
    one_line_error(harness("--results", "r.json", cwd=tmp_path), "not valid JSON")


def test_corrupt_or_missing_history_is_an_error_and_untouched(tmp_path: Path, synthetic: Any) -> None:
    write_run(synthetic(), outputs_in(tmp_path))
    history = tmp_path / "history.jsonl"
    history.write_bytes(history.read_bytes() + b"{broken\n")
    before = history.read_bytes()
    one_line_error(harness("--results", str(tmp_path / "results.json"), cwd=tmp_path), "line 2 is not valid JSON")
    assert history.read_bytes() == before
    one_line_error(harness("--results", str(tmp_path / "results.json"), "--history", "nope.jsonl", cwd=tmp_path),
                   "does not exist")


def test_bad_option_is_usage_error(tmp_path: Path) -> None:
    proc = harness("--fail-on", "sometimes", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "invalid choice" in proc.stderr


def test_rebuild_and_fail_on_reproducible(tmp_path: Path, synthetic: Any) -> None:
    """The nightly flow: run, rerun failures with the same seed into the history, gate."""
    results = synthetic(run_id="first", started=1000.0, seed=77)
    reports = tmp_path / "reports"  # the default place
    out = write_run(results, outputs_in(reports))
    assert not out.errors
    (reports / "index.html").unlink()
    proc = harness("--fail-on", "reproducible", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (reports / "index.html").exists() and "1 failed, 0 reproducible" in proc.stdout

    failing = next(t["nodeid"] for t in results["tests"] if t["outcome"] == "fail")
    rerun = {"schema_version": 1, "run_id": "rerun", "time": 5000.0, "seed": 77,
             "tests": {failing: {"outcome": "fail", "duration": 1, "full": 1, "partial": 0}}}
    hist.append_history(reports / "history.jsonl", rerun)
    proc = harness("--fail-on", "reproducible", cwd=tmp_path)
    assert proc.returncode == 1
    assert f"reproducible: {failing}" in proc.stdout and "rerun: pytest" in proc.stdout
    html = (reports / "index.html").read_text()
    assert "t-reproducible" in html

    rerun["run_id"], rerun["time"] = "rerun2", 6000.0
    rerun["tests"][failing]["outcome"] = "pass"  # type: ignore[index]
    hist.append_history(reports / "history.jsonl", rerun)
    proc = harness("--fail-on", "reproducible", "--out", str(tmp_path / "other.html"), "--no-junit",
                   cwd=tmp_path)
    assert proc.returncode == 0 and "1 flaky" in proc.stdout
    assert "t-flaky" in (tmp_path / "other.html").read_text()
    assert harness("--fail-on", "fail", cwd=tmp_path).returncode == 1
    assert json.loads((reports / "results.json").read_text())["run"]["id"] == "first"  # never rewritten


def test_rebuild_is_identical_to_what_the_run_wrote(tmp_path: Path, synthetic: Any) -> None:
    out = write_run(synthetic(), outputs_in(tmp_path))
    written = out.html.read_bytes()
    proc = harness("--results", str(out.results), "--out", str(tmp_path / "again.html"), "--no-junit", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "again.html").read_bytes() == written
