"""Pure-logic units of the Python node: conf parsing, ACL rules, the backlog window."""

from __future__ import annotations

import pytest

from harness.pyredis.config import Config, ConfigError, output_limits, parse_memory, split_conf_args
from harness.pyredis.replication.backlog import Backlog


def test_memory_units():
    assert parse_memory("1mb") == 1048576
    assert parse_memory("16kb") == 16384
    assert parse_memory("100k") == 100000
    assert parse_memory("42") == 42
    with pytest.raises(ConfigError):
        parse_memory("lots")


def test_conf_file_include_save_and_aliases(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.conf").write_text('save 900 1\nsave 300 10\nslave-read-only no\nmin-slaves-to-write 2\n')
    (tmp_path / "node.conf").write_text(
        'include base.conf\nport 7001\nrepl-backlog-size 2mb\nuser repl on >pw +@all -flushall\n'
        'replicaof 127.0.0.1 7000\nmystery-directive 1 2\n'
    )
    config = Config()
    config.load_file("node.conf")
    assert config.save_rules() == [(900, 1), (300, 10)]
    assert config.bool("replica-read-only") is False
    assert config.int("min-replicas-to-write") == 2
    assert config.int("repl-backlog-size") == 2 * 1048576
    assert config.replicaof() == ("127.0.0.1", 7000)
    assert "mystery-directive" in config.unknown
    user = config.users["repl"]
    assert user.enabled and "pw" in user.passwords
    assert user.can_run("get", {"read"}) and not user.can_run("flushall", {"write"})
    assert dict(config.matching("slave-read-only")) == {"slave-read-only": "no"}


def test_save_empty_clears_and_bad_values_rejected(tmp_path):
    path = tmp_path / "a.conf"
    path.write_text('save ""\n')
    config = Config()
    config.load_file(str(path))
    assert config.save_rules() == []
    path.write_text("repl-timeout soon\n")
    with pytest.raises(ConfigError, match="FATAL CONFIG FILE ERROR"):
        Config().load_file(str(path))
    path.write_text('port "unbalanced\n')
    with pytest.raises(ConfigError, match="Unbalanced quotes"):
        Config().load_file(str(path))


def test_output_limit_merge():
    config = Config()
    config.set_directive("client-output-buffer-limit", ["replica", "256kb", "128kb", "1"])
    limits = output_limits(config.get("client-output-buffer-limit"))
    assert limits["replica"] == (262144, 131072, 1)
    assert limits["normal"] == (0, 0, 0)
    with pytest.raises(ConfigError):
        config.set_directive("client-output-buffer-limit", ["bogus", "1", "1", "1"])


def test_argv_shapes(tmp_path):
    conf = tmp_path / "x.conf"
    conf.write_text("")
    assert split_conf_args([str(conf), "--port", "7"]) == (str(conf), [("port", ["7"])])
    assert split_conf_args(["--port", "7", str(conf)]) == (str(conf), [("port", ["7"])])
    assert split_conf_args(["--save", "", "--port", "1"]) == (None, [("save", [""]), ("port", ["1"])])


def test_backlog_window_and_trim():
    backlog = Backlog(16 * 1024, master_offset=100)
    assert backlog.first == 101 and backlog.histlen == 0
    assert backlog.covers(101) and not backlog.covers(100) and not backlog.covers(102)
    backlog.append(b"a" * 10)
    assert backlog.covers(111) and backlog.since(105) == b"a" * 6
    backlog.append(b"b" * 40 * 1024)
    # Trimmed back to the configured size once the overshoot exceeds the slack.
    assert backlog.histlen == 16 * 1024
    end = backlog.first + backlog.histlen
    assert end == 101 + 10 + 40 * 1024
    assert not backlog.covers(101) and backlog.covers(end)
    assert backlog.since(end - 3) == b"bbb"
