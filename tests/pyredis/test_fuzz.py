"""Hypothesis fuzzing of the Python node's network input: it must never crash or hang.

After every generated case the same server must still answer PING on a fresh connection, and
every reply it sent must be well-formed RESP (so bad input got an error reply, not garbage).
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.pyredis.commands import COMMANDS, load_all
from tests.pyredis.conftest import Server

load_all()
COMMAND_NAMES = sorted(name.decode() for name in COMMANDS if name not in (b"shutdown", b"debug", b"replicaof", b"slaveof", b"sync", b"psync", b"quit", b"client", b"flushall", b"save", b"bgsave", b"config", b"acl", b"wait", b"restore"))


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="pyredis-fuzz-"))
    server = Server("py", root, {})
    server.start()
    yield server
    server.kill()
    import shutil

    shutil.rmtree(root, ignore_errors=True)


def _bulk(b: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(b), b)


arg = st.one_of(
    st.binary(max_size=20),
    st.sampled_from([b"0", b"-1", b"1", b"99999999999999999999", b"nan", b"inf", b"-inf", b"(1", b"[a", b"+", b"-", b"*", b"EX", b"PX", b"NX", b"XX", b"GET", b"WITHSCORES", b"LIMIT", b"COUNT", b"MATCH", b"BYSCORE", b"REV", b"key", b"k2"]),
)

well_formed = st.builds(
    lambda name, args: b"*%d\r\n" % (len(args) + 1) + _bulk(name.encode()) + b"".join(_bulk(a) for a in args),
    st.sampled_from(COMMAND_NAMES),
    st.lists(arg, max_size=6),
)

malformed = st.one_of(
    st.binary(min_size=1, max_size=200),
    st.builds(lambda n: b"*%d\r\n" % n, st.integers(-5, 2**40)),
    st.builds(lambda n, body: b"*1\r\n$%d\r\n%s" % (n, body), st.integers(-10, 2**40), st.binary(max_size=30)),
    st.builds(lambda c: b"*2\r\n" + bytes([c]) + b"3\r\nGET\r\n", st.integers(0, 255)),
    st.builds(lambda t: b"SET " + t + b"\r\n", st.binary(max_size=40)),
    st.just(b'SET "a\r\n'),
    st.just(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n"),  # unterminated multibulk
)


def _valid_resp_prefix(data: bytes) -> bool:
    """Check the replies parse as a sequence of RESP2/3 values (a trailing partial one is ok)."""
    pos = 0
    n = len(data)

    def value(p: int) -> int | None:
        if p >= n:
            return None
        nl = data.find(b"\r\n", p)
        if nl < 0:
            return None
        kind, line = data[p : p + 1], data[p + 1 : nl]
        if kind in b"+-:_,#(":
            return nl + 2
        if kind == b"$":
            size = int(line)
            return nl + 2 if size < 0 else (nl + 2 + size + 2 if nl + 2 + size + 2 <= n else None)
        if kind in b"*~%":
            count = int(line) * (2 if kind == b"%" else 1)
            q: int | None = nl + 2
            for _ in range(max(count, 0)):
                q = value(q)  # type: ignore[arg-type]
                if q is None:
                    return None
            return q
        raise AssertionError(f"not RESP at {p}: {data[p:p + 40]!r}")

    while pos < n:
        nxt = value(pos)
        if nxt is None:
            return True
        pos = nxt
    return True


def _exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(payload)
        sock.settimeout(0.15)
        out = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def _still_alive(server: Server) -> None:
    assert server.proc is not None and server.proc.poll() is None, server.log_text()[-2000:]
    log = server.log_text()
    assert "internal error" not in log and "Traceback" not in log, log[-3000:]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        assert sock.recv(100) == b"+PONG\r\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(well_formed, malformed), min_size=1, max_size=4))
def test_any_input_gets_resp_and_server_survives(fuzz_server, parts):
    reply = _exchange(fuzz_server.port, b"SELECT 1\r\n" + b"".join(parts))
    assert _valid_resp_prefix(reply)
    _still_alive(fuzz_server)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(well_formed, min_size=1, max_size=10))
def test_random_commands_reply_without_crashing(fuzz_server, commands):
    reply = _exchange(fuzz_server.port, b"SELECT 2\r\n" + b"".join(commands))
    assert reply.startswith(b"+OK\r\n")
    assert _valid_resp_prefix(reply)
    assert b"-ERR Protocol error" not in reply
    _still_alive(fuzz_server)
