"""The pytest plugin end to end, in a child pytest run (pytester): options, errors, skips, summary."""

from __future__ import annotations

import pytest

from harness.nodes.binaries import local_builds

pytest_plugins = ["pytester"]

SUITE = '''
def test_master_and_replica(server, topology_factory):
    """A replica gets the master's write"""
    topo = topology_factory("m <- r1")
    topo["m"].client().set("k", "v")
    topo.wait_in_sync()
    assert topo["r1"].client().get("k") == "v"
'''

FAILING = '''
def test_fails_with_logs(server, topology_factory):
    topo = topology_factory("m <- r1")
    assert topo["r1"].client().get("missing") == "present"
'''


def _newest() -> str:
    builds = local_builds()
    if not builds:
        pytest.skip("no redis-server found")
    return builds[-1].version


def test_bad_backend_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=SUITE)
    result = pytester.runpytest("--backend", "docker", "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*unknown backend 'docker': choose from process, python, container, mixed*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_not_a_redis_server_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=SUITE)
    result = pytester.runpytest("--redis-server", "/bin/true", "-p", "no:cacheprovider")
    result.stderr.fnmatch_lines(["*--redis-server: /bin/true is not a redis-server*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_no_matching_server_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x=SUITE)
    result = pytester.runpytest("--server", "1.0", "-rs", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*no Redis server to test*no target matches --server 1.0 (found: *redis-*)*python -m harness doctor*"])
    result.assert_outcomes(skipped=1)


def test_runs_on_a_server_with_header_seed_and_summary(pytester: pytest.Pytester) -> None:
    version = _newest()
    pytester.makepyfile(test_x=SUITE)
    result = pytester.runpytest("--server", version, "--harness-seed", "1234", "-p", "no:cacheprovider",
                                f"--report-dir={pytester.path / 'reports'}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "harness: seed 1234 (given)*",
        f"harness: targets redis-{version}",
        "*replication conformance per server*",
        f"redis-{version}*1 passed*",
    ])


def test_failure_shows_node_logs_and_rerun_line(pytester: pytest.Pytester) -> None:
    version = _newest()
    pytester.makepyfile(test_x=FAILING)
    result = pytester.runpytest("--server", version, "--harness-seed", "77", "-p", "no:cacheprovider",
                                f"--report-dir={pytester.path / 'reports'}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"*node m (redis-{version}) log, last 60 lines*",
        "*Ready to accept connections*",
        "*harness rerun*",
        f"pytest test_x.py::test_fails_with_logs[[]redis-{version}[]] --harness-seed=77 --server={version}",
    ])


MARKED = '''
import pytest

@pytest.mark.min_version("99.0", "a future feature")
def test_future(server):
    pass

@pytest.mark.gap("process", "not implemented by the process backend")
def test_gap(server):
    assert False, "the gap"
'''


def test_min_version_and_gap_markers(pytester: pytest.Pytester) -> None:
    version = _newest()
    pytester.makepyfile(test_x=MARKED)
    result = pytester.runpytest("--server", version, "-rsx", "-p", "no:cacheprovider",
                                f"--report-dir={pytester.path / 'reports'}")
    result.assert_outcomes(skipped=1, xfailed=1)
    result.stdout.fnmatch_lines([
        f"*needs Redis 99.0+, redis-{version} is older. a future feature*",
        "*known gap on process: not implemented by the process backend*",
    ])
