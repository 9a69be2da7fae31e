"""The `python -m harness pyredis` entry point: argv shapes, conf files, clear start errors."""

from __future__ import annotations

import subprocess
import sys

from tests.pyredis.conftest import Server, free_port, wait_until


def _run(args: list[str], cwd, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "pyredis", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_bad_conf_exits_non_zero_with_message(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port notanumber\n")
    proc = _run([str(conf)], tmp_path)
    assert proc.returncode == 1
    assert "FATAL CONFIG FILE ERROR" in proc.stderr and "Traceback" not in proc.stderr
    missing = _run([str(tmp_path / "nope.conf")], tmp_path)
    assert missing.returncode == 1 and "can't open config file" in missing.stderr


def test_out_of_range_numbers_are_refused_as_redis_server_does(tmp_path):
    conf = tmp_path / "range.conf"
    conf.write_text("repl-timeout 0\n")
    proc = _run([str(conf)], tmp_path)
    assert proc.returncode == 1
    assert "line 1" in proc.stderr and "argument must be between 1 and 2147483647 inclusive" in proc.stderr
    argv = _run(["--port", "70000"], tmp_path)
    assert argv.returncode == 1
    assert ">>> 'port 70000' argument must be between 0 and 65535 inclusive" in argv.stderr
    assert "Traceback" not in proc.stderr + argv.stderr


def test_port_option_before_conf_and_include(tmp_path):
    base = tmp_path / "base.conf"
    base.write_text('save ""\nsome-future-directive yes\nrequirepass pw\n')
    node_conf = tmp_path / "node.conf"
    node_conf.write_text(f"include {base}\nlogfile {tmp_path / 'node.log'}\npidfile {tmp_path / 'node.pid'}\n")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "pyredis", "--port", str(port), str(node_conf)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        import redis

        client = redis.Redis(port=port, password="pw", socket_timeout=2)
        wait_until(lambda: client.ping(), 15, "the node started with --port before the conf file")
        assert (tmp_path / "node.pid").read_text().strip() == str(proc.pid)
        assert client.config_get("some-future-directive") == {"some-future-directive": "yes"}
        log = (tmp_path / "node.log").read_text()
        assert "Ignoring unsupported directive 'some-future-directive'" in log
        assert "Ready to accept connections" in log
        client.close()
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    assert not (tmp_path / "node.pid").exists()


def test_port_in_use_fails_clearly(servers):
    node: Server = servers("py")
    proc = _run(["--port", str(node.port), "--logfile", ""], node.dir)
    assert proc.returncode == 1
    assert "Could not create server TCP listening socket" in proc.stdout
