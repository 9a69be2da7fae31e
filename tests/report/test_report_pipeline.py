"""The whole pipeline in a real pytest run (pytester, subprocess): hooks -> results.json -> HTML.

The inner test file uses the recorder the way suites do, starts real redis-server nodes
through the core's node factory (so the sampler has something real to sample and the failing
test has real log tails), and covers every outcome: pass with a fault window, hazard, fail,
expected failure, skip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

REDIS_70 = Path("/usr/bin/redis-server")
needs_redis = pytest.mark.skipif(not REDIS_70.exists(), reason="needs /usr/bin/redis-server (Debian redis-server)")

INNER = '''
"""Recorder contract: what a suite records reaches the report."""

import pytest

from harness.recorder import current
from harness.waits import wait_until

EXTRA = [("repl-diskless-sync-delay", "0"), ("enable-debug-command", "yes")]


def test_fault_window_and_samples(server, node_factory):
    """A replica stays in sync through a latency window"""
    m = node_factory.create("m", server.master, EXTRA)
    r1 = node_factory.create("r1", server.replica, EXTRA + [("replicaof", f"{m.host} {m.port}")])
    rec = current()
    with rec.window("fault", "latency", "r1->m", latency=300):
        m.client().set("k", "v" * 1000)
        wait_until(lambda: r1.info()["master_link_status"] == "up", timeout=10, what="r1 link up")
        wait_until(lambda: r1.client().get("k") is not None, timeout=10, what="k replicated")
    rec.add_ledger({"what": "initial sync", "master": "m", "kind": "full", "sync_full": 1,
                    "sync_partial_ok": 0, "sync_partial_err": 0})
    wait_until(lambda: len([s for s in rec.samples if s.node == "r1"]) >= 3, timeout=10, what="3 samples of r1")


def test_hazard_reproduced(server):
    """Writes acknowledged by a partitioned master are lost"""
    current().hazard("acknowledged writes lost after the partition healed")


def test_assertion_fails(server, node_factory):
    """Two plus two is five on this server"""
    node_factory.create("m", server.master, EXTRA)
    assert 2 + 2 == 5, "arithmetic broke; requirepass s3cret-value"


@pytest.mark.xfail(reason="known gap: WAITAOF not implemented")
def test_expected_failure(server):
    """WAITAOF waits for the replica's fsync"""
    raise AssertionError("WAITAOF unknown")


def test_skipped(server):
    """Needs a future server"""
    pytest.skip("needs Redis 9.0+")


@pytest.mark.parametrize("mode", ["disk", "diskless"])
def test_variants(server, mode):
    """Both transfer modes"""
'''


def run(pytester: pytest.Pytester, *extra: str) -> tuple[pytest.RunResult, dict[str, Any], Path]:
    pytester.makepyfile(test_inner=INNER)
    reports = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        "test_inner.py", "--server", "7.0", "--redis-server", str(REDIS_70), "--harness-seed", "4242",
        "--report-dir", str(reports), "-p", "no:cacheprovider", "-p", "no:randomly", *extra, timeout=240,
    )
    results_path = reports / "results.json"
    assert results_path.exists(), result.stdout.str() + result.stderr.str()
    return result, json.loads(results_path.read_text()), reports


def by_function(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["function"] + (f"[{t['variant']}]" if t["variant"] else ""): t for t in results["tests"]}


@needs_redis
@pytest.mark.slow
def test_full_pipeline(pytester: pytest.Pytester) -> None:
    result, results, reports = run(pytester)
    result.assert_outcomes(passed=4, failed=1, skipped=1, xfailed=1)
    assert str(reports / "index.html") in result.stdout.str()
    tests = by_function(results)
    assert {k: t["outcome"] for k, t in tests.items()} == {
        "test_fault_window_and_samples": "pass", "test_hazard_reproduced": "hazard",
        "test_assertion_fails": "fail", "test_expected_failure": "xfail", "test_skipped": "skipped",
        "test_variants[disk]": "pass", "test_variants[diskless]": "pass",
    }
    assert results["schema_version"] == 1 and results["run"]["seed"] == 4242
    assert results["targets"] == ["redis-7.0.15"] and all(t["target"] == "redis-7.0.15" for t in tests.values())

    fault = tests["test_fault_window_and_samples"]
    assert fault["description"] == "A replica stays in sync through a latency window"
    assert fault["family"].startswith("Recorder contract")  # the core titles families
    assert fault["family_description"] == "Recorder contract: what a suite records reaches the report."
    assert any(e["kind"] == "fault" and e["name"] == "latency" and e["end"] for e in fault["events"])
    r1 = [s for s in fault["samples"] if s[1] == "r1"]
    assert len(r1) >= 3 and any(s[2].get("role") == "slave" for s in r1)  # sampled from the real server
    assert {n["name"] for n in fault["nodes"]} == {"m", "r1"}
    assert fault["ledger"][0]["kind"] == "full"
    assert fault["logs"] == {}  # passing tests carry no logs

    failing = tests["test_assertion_fails"]
    assert "arithmetic broke" in failing["message"] and "assert" in failing["longrepr"]
    assert "s3cret-value" not in json.dumps(results)
    assert "--harness-seed=4242" in failing["rerun"] and "test_assertion_fails" in failing["rerun"]
    (log_name, log_text), = failing["logs"].items()
    assert log_name.startswith("m ") and "Ready to accept connections" in log_text
    assert failing["triage"] == "unconfirmed"

    assert tests["test_hazard_reproduced"]["hazards"] == ["acknowledged writes lost after the partition healed"]
    assert "WAITAOF not implemented" in tests["test_expected_failure"]["message"]
    assert tests["test_skipped"]["message"] == "needs Redis 9.0+"
    assert tests["test_variants[disk]"]["behaviour_key"] != tests["test_variants[diskless]"]["behaviour_key"]

    env = results["environment"]
    assert any(b["location"] == str(REDIS_70) for b in env["builds"])
    html = (reports / "index.html").read_text()
    assert html.count('data-outcome="') == 7 and "<svg" in html and "acknowledged writes lost" in html
    assert (reports / "junit.xml").read_text().count("<testcase") == 7
    assert len((reports / "history.jsonl").read_text().splitlines()) == 1

    # the same seed again: the failure is now reproducible, the history has both runs
    result, results, reports = run(pytester)
    assert by_function(results)["test_assertion_fails"]["triage"] == "reproducible"
    assert len((reports / "history.jsonl").read_text().splitlines()) == 2
    assert [h["outcome"] for h in by_function(results)["test_assertion_fails"]["history"]] == ["fail", "fail"]


@needs_redis
@pytest.mark.slow
def test_pipeline_under_xdist(pytester: pytest.Pytester) -> None:
    """Workers record; only the controller writes, with the workers' records in it."""
    result, results, reports = run(pytester, "-n", "2")
    result.assert_outcomes(passed=4, failed=1, skipped=1, xfailed=1)
    tests = by_function(results)
    assert len(tests) == 7
    fault = tests["test_fault_window_and_samples"]
    assert len([s for s in fault["samples"] if s[1] == "r1"]) >= 3 and fault["events"]
    assert tests["test_assertion_fails"]["logs"]
    assert tests["test_hazard_reproduced"]["outcome"] == "hazard"
    assert results["run"]["workers"] == 2
    assert len((reports / "history.jsonl").read_text().splitlines()) == 1


STANDALONE = '''
import pytest
from harness.recorder import current

def test_records():
    """Standalone recorders work"""
    rec = current()
    with rec.window("fault", "blackhole", "r1->m"):
        rec.sample("m", {"reachable": True, "role": "master", "master_repl_offset": 10})
    rec.hazard("seen")

def test_fails():
    assert False, "nope"
'''


def test_standalone_plugin_without_core(pytester: pytest.Pytester) -> None:
    """`-p harness.report.plugin` alone: own recorders and a default session, report written."""
    pytester.makepyfile(test_alone=STANDALONE)
    result = pytester.runpytest_subprocess("test_alone.py", "-p", "no:redis_repl_harness", "-p",
                                           "harness.report.plugin", "-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    results = json.loads((pytester.path / "reports" / "results.json").read_text())
    tests = {t["function"]: t for t in results["tests"]}
    assert tests["test_records"]["outcome"] == "hazard"
    assert tests["test_records"]["events"][0]["name"] == "blackhole"
    assert tests["test_records"]["samples"][0][1] == "m"
    assert tests["test_fails"]["outcome"] == "fail"


def test_no_double_registration_and_no_report_for_plain_tests(pytester: pytest.Pytester) -> None:
    """Core + `-p harness.report.plugin`: one ReportPlugin; tests without `server` write nothing."""
    pytester.makepyfile(test_plain=STANDALONE)
    pytester.makeconftest('''
def pytest_sessionfinish(session):
    names = [name for name, _ in session.config.pluginmanager.list_name_plugin() if name == "harness-report"]
    print("REPORT-PLUGINS", len(names))
''')
    result = pytester.runpytest_subprocess("test_plain.py", "-p", "harness.report.plugin", "-p", "no:cacheprovider",
                                           "-s", timeout=120)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*REPORT-PLUGINS 1*"])
    assert not (pytester.path / "reports").exists()


@needs_redis
@pytest.mark.slow
def test_nightly_rerun_flow(pytester: pytest.Pytester) -> None:
    """The workflow's steps by hand: run, rerun failures with the same seed, gate on reproducible."""
    import shutil
    import subprocess
    import sys

    pytester.makepyfile(test_inner=INNER)
    common = ["test_inner.py", "--server", "7.0", "--redis-server", str(REDIS_70), "--harness-seed", "99"]
    first = pytester.runpytest_subprocess(*common, "--report-dir", "reports", timeout=240)
    first.assert_outcomes(passed=4, failed=1, skipped=1, xfailed=1)
    reports = pytester.path / "reports"
    (reports / "rerun").mkdir()
    shutil.copy(reports / "history.jsonl", reports / "rerun" / "history.jsonl")
    rerun = pytester.runpytest_subprocess(*common, "--last-failed", "--last-failed-no-failures", "none",
                                          "--report-dir", "reports/rerun", timeout=240)
    rerun.assert_outcomes(failed=1, deselected=6)
    shutil.copy(reports / "rerun" / "history.jsonl", reports / "history.jsonl")
    gate = subprocess.run([sys.executable, "-m", "harness", "report", "--results", "reports/results.json",
                           "--fail-on", "reproducible"], cwd=pytester.path, capture_output=True, text=True,
                          timeout=60)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "reproducible: " in gate.stdout and "test_assertion_fails" in gate.stdout
    results = json.loads((reports / "results.json").read_text())
    assert len(results["tests"]) == 7  # the first run's results are kept whole
    assert "t-reproducible" in (reports / "index.html").read_text()
