"""The command line (flags, errors, signals, -config) and the ToxiproxyProcess runner."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tpkit import Api, Upstream, wait_for

from harness.toxiproxy import EmbeddedToxiproxy, ToxiproxyProcess, ToxiproxyStartError
from harness.toxiproxy.cli import UsageError, main, parse_args

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "harness", "toxiproxy", *args], capture_output=True, text=True,
        timeout=timeout, env=env, cwd=ROOT,
    )


def start_cli(*args: str) -> tuple[subprocess.Popen[str], int]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "toxiproxy", *args], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise AssertionError(f"no ready line; got {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    return proc, int(line.rsplit(":", 1)[1])


def test_parse_flag_styles() -> None:
    opts = parse_args(["-host", "0.0.0.0", "--port=0", "-seed=5", "-proxy-metrics", "--config", "x.json"])
    assert (opts.host, opts.port, opts.seed, opts.proxy_metrics, opts.config) == ("0.0.0.0", 0, 5, True, "x.json")
    assert parse_args(["-proxy-metrics=false"]).proxy_metrics is False
    for bad in (["-nope"], ["-port"], ["-port", "abc"], ["-port", "70000"], ["-seed", "1.5"], ["stray"],
                ["-proxy-metrics=maybe"]):
        with pytest.raises(UsageError):
            parse_args(bad)


def test_bad_flag_exits_2_with_message(capsys) -> None:
    assert main(["-bogus"]) == 2
    err = capsys.readouterr().err
    assert "flag provided but not defined: -bogus" in err and "usage:" in err
    assert main(["-port", "x"]) == 2
    assert 'invalid value "x" for flag -port' in capsys.readouterr().err


def test_version_and_help(capsys) -> None:
    assert main(["-version"]) == 0
    assert capsys.readouterr().out.strip() == "toxiproxy-server version 2.12.0"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and "-parent-pid" in out


def test_port_in_use_exits_1_with_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = run_cli("-host", "127.0.0.1", "-port", str(port))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot listen on 127.0.0.1:{port}" in lines[0] and "in use" in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_bad_flag_via_subprocess_exits_2() -> None:
    res = run_cli("-what")
    assert res.returncode == 2 and "Traceback" not in res.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_cleanly(sig: signal.Signals) -> None:
    proc, port = start_cli("-host", "127.0.0.1", "-port", "0")
    try:
        assert Api("127.0.0.1", port).get("/version").status == 200
        proc.send_signal(sig)
        assert proc.wait(10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_config_file_populates_at_startup(tmp_path: Path, echo: Upstream) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from_config", "upstream": echo.address, "listen": "127.0.0.1:0"}]))
    proc, port = start_cli("-host=127.0.0.1", "-port=0", f"-config={config}", "-proxy-metrics")
    try:
        api = Api("127.0.0.1", port)
        proxies = api.get("/proxies").json()
        assert list(proxies) == ["from_config"] and proxies["from_config"]["enabled"]
        assert api.get("/metrics").status == 200
    finally:
        proc.terminate()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def test_process_runner_roundtrip(tmp_path: Path, echo: Upstream) -> None:
    log = tmp_path / "toxiproxy.log"
    with ToxiproxyProcess(seed=3, log_path=log) as tp:
        assert tp.port > 0 and tp.url == f"http://127.0.0.1:{tp.port}"
        api = Api(tp.host, tp.port)
        listen = api.create_proxy("p", echo.address)["listen"]
        host, port = listen.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"via child")
            assert sock.recv(20) == b"via child"
        proc = tp.proc
        assert proc is not None
    assert proc.poll() is not None  # stopped
    assert "toxiproxy API listening on" in log.read_text()


def test_process_runner_reports_child_failure() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        runner = ToxiproxyProcess(port=busy.getsockname()[1])
        with pytest.raises(ToxiproxyStartError) as info:
            runner.start(timeout=15)
    assert "exited with status 1" in str(info.value) and "cannot listen" in str(info.value)


def test_child_exits_when_parent_dies(tmp_path: Path) -> None:
    """A parent killed with SIGKILL cannot stop its child; the child must notice and exit."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from harness.toxiproxy import ToxiproxyProcess
        tp = ToxiproxyProcess().start()
        print(tp.proc.pid, tp.port, flush=True)
        time.sleep(60)
    """))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid, port = map(int, parent.stdout.readline().split())
        assert Api("127.0.0.1", port).get("/version").status == 200
        parent.kill()
        parent.wait(5)

        def child_gone() -> bool:
            try:
                os.kill(child_pid, 0)
            except ProcessLookupError:
                return True
            # a zombie re-parented to init also counts as gone once reaped; check its state
            try:
                return Path(f"/proc/{child_pid}/stat").read_text().split()[2] == "Z"
            except OSError:
                return True

        wait_for(child_gone, 10, f"toxiproxy child {child_pid} to exit after its parent died")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
        if parent.stdout:
            parent.stdout.close()


def test_embedded_start_failure_is_clear() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(ToxiproxyStartError) as info:
            EmbeddedToxiproxy(port=busy.getsockname()[1]).start()
    assert "failed to start" in str(info.value)


def test_embedded_stop_is_idempotent_and_frees_port() -> None:
    tp = EmbeddedToxiproxy().start()
    port = tp.port
    tp.stop()
    tp.stop()
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))  # nothing is left listening on the API port
