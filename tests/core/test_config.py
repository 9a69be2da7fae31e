"""Settings precedence (CLI > environment > ini > default) and clear errors for bad values."""

from __future__ import annotations

import pytest

from harness.config import Settings, SettingsError, resolve


def _resolve(cli=None, env=None, ini=None) -> Settings:
    ini = ini or {}
    return resolve(cli or {}, env or {}, ini.get)


def test_cli_beats_env_beats_ini() -> None:
    ini = {"harness_seed": "1", "harness_backend": "python"}
    assert _resolve(ini=ini).seed == 1
    assert _resolve(env={"HARNESS_SEED": "2"}, ini=ini).seed == 2
    assert _resolve(cli={"seed": "3"}, env={"HARNESS_SEED": "2"}, ini=ini).seed == 3
    assert _resolve(ini=ini).backends == ["python"]
    assert _resolve(cli={"backend": ["process", "mixed"]}, ini=ini).backends == ["process", "mixed"]


def test_lists_accept_separators_from_env() -> None:
    settings = _resolve(env={"HARNESS_REDIS_SERVER": "/a/redis-server:/b/redis-server,/c/x"})
    assert settings.redis_servers == ["/a/redis-server", "/b/redis-server", "/c/x"]


def test_fresh_seed_when_none_given() -> None:
    assert not _resolve().seed_was_given
    assert len({_resolve().seed for _ in range(5)}) > 1


def test_images_imply_the_container_backend() -> None:
    assert _resolve(cli={"image": ["redis:7.2"]}).backends == ["process", "container"]


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"backend": ["docker"]}, "unknown backend 'docker': choose from process, python, container, mixed"),
        ({"seed": "abc"}, "--harness-seed must be an integer, got 'abc'"),
        ({"wait_timeout": "-1"}, "--wait-timeout must be positive"),
        ({"wait_timeout": "soon"}, "--wait-timeout must be a number of seconds"),
        ({"toxiproxy_url": "127.0.0.1:8474"}, "--toxiproxy-url must look like http://"),
    ],
)
def test_bad_values_are_named(cli, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _resolve(cli=cli)


def test_rerun_command_carries_seed_and_servers() -> None:
    settings = _resolve(cli={"seed": "42", "redis_server": ["/opt/redis 7/redis-server"], "server": ["7.0"]})
    line = settings.rerun_command("suites/test_x.py::test_y[redis-7.0.15]")
    assert line.startswith("pytest suites/test_x.py::test_y[redis-7.0.15] --harness-seed=42")
    assert "--redis-server='/opt/redis 7/redis-server'" in line
    assert "--server=7.0" in line
