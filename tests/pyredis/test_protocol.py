"""RESP over a real socket: framing, pipelining, inline commands, exact error texts, limits."""

from __future__ import annotations

import socket

import pytest

from harness.pyredis.resp import ProtocolError, parse_command
from tests.pyredis.conftest import wait_until


class Raw:
    """A bare socket speaking RESP, to send exactly the bytes a test wants."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_closed(self) -> bytes:
        chunks = []
        while True:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def read(self, n_lines: int = 1) -> bytes:
        while self.buf.count(b"\r\n") < n_lines:
            data = self.sock.recv(65536)
            if not data:
                break
            self.buf += data
        parts = self.buf.split(b"\r\n")
        out = b"\r\n".join(parts[:n_lines]) + b"\r\n"
        self.buf = b"\r\n".join(parts[n_lines:])
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(py):
    conn = Raw(py.port)
    yield conn
    conn.close()


def test_multibulk_and_inline(raw):
    raw.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n")
    assert raw.read() == b"+OK\r\n"
    raw.send(b"GET k\r\n")
    assert raw.read(2) == b"$5\r\nhello\r\n"
    raw.send(b'SET q "a b\\x41"\r\nGET q\r\n')
    assert raw.read(3) == b"+OK\r\n$4\r\na bA\r\n"


def test_pipelining_many_commands_one_write(raw):
    raw.send(b"".join(b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n" for _ in range(1000)))
    replies = raw.read(1000)
    assert replies.split(b"\r\n")[-2] == b":1000"


def test_split_across_packets(raw):
    data = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n"
    for i in range(len(data)):
        raw.send(data[i : i + 1])
    assert raw.read() == b"+OK\r\n"


def test_unknown_command_and_arity_texts(raw):
    raw.send(b"FOOBAR a b\r\n")
    assert raw.read() == b"-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' \r\n"
    raw.send(b"GET\r\n")
    assert raw.read() == b"-ERR wrong number of arguments for 'get' command\r\n"
    raw.send(b"SET k v\r\nLPUSH k x\r\n")
    assert raw.read(2) == b"+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b"*2\r\nxx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n"),
        (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*1\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
        (b"*99999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
        (b'SET "unterminated\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ],
)
def test_protocol_errors_reply_then_close(raw, payload, message):
    raw.send(payload)
    assert raw.read_until_closed() == message


def test_too_big_inline_request_closes(raw):
    raw.send(b"A" * (70 * 1024))
    assert raw.read_until_closed() == b"-ERR Protocol error: too big inline request\r\n"


def test_server_survives_protocol_errors(py, raw):
    raw.send(b"*x\r\n")
    raw.read_until_closed()
    with py.client() as c:
        assert c.ping()


def test_parser_reports_incomplete_without_consuming():
    buf = bytearray(b"*2\r\n$3\r\nGET\r\n$3\r\nke")
    assert parse_command(buf, 0) == (None, 0)
    buf += b"y\r\n"
    args, pos = parse_command(buf, 0)
    assert args == [b"GET", b"key"] and pos == len(buf)
    with pytest.raises(ProtocolError):
        parse_command(bytearray(b"*1\r\n:5\r\n"), 0)


def test_quit_closes(raw):
    raw.send(b"QUIT\r\n")
    assert raw.read_until_closed() == b"+OK\r\n"


def test_resp3_hello_and_types(py):
    with py.client() as c:
        c.hset("h", mapping={"a": "1"})
        assert c.hgetall("h") == {"a": "1"}
        c.zadd("z", {"m": 1.5})
        assert c.zscore("z", "m") == 1.5
        assert c.zrange("z", 0, -1, withscores=True) == [("m", 1.5)]
        assert c.smembers("nope") == set()
        assert c.get("missing") is None
        assert c.config_get("repl-backlog-size") == {"repl-backlog-size": "1048576"}


def _slow_all(buf: bytes) -> list[tuple[list[bytes], int]]:
    out = []
    pos = 0
    while True:
        try:
            args, new = parse_command(bytearray(buf), pos)
        except ProtocolError:
            return out
        if args is None:
            return out
        out.append((args, new))
        pos = new


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.lists(st.binary(max_size=12), min_size=1, max_size=4), max_size=6), st.binary(max_size=12))
def test_fast_splitter_agrees_with_the_exact_parser(commands, tail):
    from harness.pyredis.resp import command, parse_fast

    data = b"".join(command(c) for c in commands) + tail
    fast = parse_fast(data, 0)
    slow = _slow_all(data)
    # The fast path may stop early (then the caller falls back) but never disagrees.
    assert fast == slow[: len(fast)]
    if b"\r\n" not in b"".join(b"".join(c) for c in commands):
        assert len(fast) >= len(commands) or not data.startswith(b"*")


@pytest.mark.parametrize(
    "data, taken",
    [
        # A value past the length table (4 KiB) takes the exact length check, and passes.
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000\r\n" + b"v" * 5000 + b"\r\n*1\r\n$4\r\nPING\r\n", 2),
        # Non-canonical spellings stop the fast splitter where they start.
        (b"*1\r\n$4\r\nPING\r\n*1\r\n$04\r\nPING\r\n", 1),
        (b"*1\r\n$4\r\nPING\r\n*01\r\n$4\r\nPING\r\n", 1),
        (b"*1\r\n$4\r\nPING\r\n*1\r\n$+4\r\nPING\r\n", 1),
        # A CRLF inside a value: the pieces after the split do not add up, so it stops.
        (b"*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", 0),
        # Incomplete: the last value's CRLF has not arrived.
        (b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING", 1),
    ],
)
def test_fast_splitter_edges(data, taken):
    from harness.pyredis.resp import parse_fast

    fast = parse_fast(data, 0)
    assert len(fast) == taken
    assert fast == _slow_all(data)[:taken]


def test_normal_client_output_limit_drops_slow_reader(servers):
    node = servers("py", client_output_buffer_limit='"normal 1mb 0 0"')
    with node.client() as c:
        c.set("big", "x" * 200_000)
    sock = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET big\r\n" * 200)  # 40 MB of replies that we never read
    node.wait_log("closed for overcoming of output buffer limits")
    sock.close()
    with node.client() as c:
        assert c.ping()


# Pipelines in which a command changes what later commands of the same batch may do (the
# dispatcher skips its refusal checks for data commands only while nothing can have changed).
_GATE_PIPELINES = {
    "multi": [["SET", "a", "1"], ["MULTI"], ["SET", "b", "2"], ["GET", "a"], ["EXEC"], ["GET", "b"]],
    "auth": [["GET", "k"], ["AUTH", "pw"], ["SET", "k", "v"], ["GET", "k"]],
    "min-replicas": [
        ["CONFIG", "SET", "min-replicas-to-write", "1"], ["SET", "k", "v"],
        ["CONFIG", "SET", "min-replicas-to-write", "0"], ["SET", "k", "v"],
    ],
    "acl": [
        ["ACL", "SETUSER", "default", "-set"], ["SET", "k", "v"], ["GET", "k"],
        ["ACL", "SETUSER", "default", "+set"], ["SET", "k", "v"], ["GET", "k"],
    ],
    "replicaof": [["SET", "k", "v"], ["REPLICAOF", "127.0.0.1", "1"], ["SET", "k", "w"], ["GET", "k"], ["REPLICAOF", "NO", "ONE"], ["SET", "k", "w"]],
}


def _pipeline_reply(port: int, commands: list[list[str]], password: str | None) -> bytes:
    """Send the pipeline in one write; read until the last command's reply has arrived."""
    from harness.pyredis.resp import command

    marker = b"gate-pipeline-end"
    conn = Raw(port)
    try:
        payload = b"".join(command([p.encode() for p in c]) for c in commands)
        conn.send(payload + command([b"AUTH", password.encode()] if password else [b"PING"]) + command([b"ECHO", marker]))
        got = b""
        while not got.endswith(marker + b"\r\n"):
            data = conn.sock.recv(65536)
            assert data, f"connection closed after {got!r}"
            got += data
        return got
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(_GATE_PIPELINES))
def test_pipelined_refusals_match_real_redis(servers, case):
    password = "pw" if case == "auth" else None
    directives = {"requirepass": password} if password else {}
    replies = {}
    for kind in ("py", "7.0"):
        node = servers(kind, **directives)
        replies[kind] = _pipeline_reply(node.port, _GATE_PIPELINES[case], password)
    assert replies["py"] == replies["7.0"]


# Blocking list commands where they must not block: inside MULTI, with data, with bad input.
_BLOCKING_PIPELINES = {
    "in-multi": [["MULTI"], ["BLPOP", "e", "0"], ["BRPOP", "e", "0"], ["BLMOVE", "e", "d", "LEFT", "LEFT", "0"],
                 ["BRPOPLPUSH", "e", "d", "0"], ["BZPOPMIN", "ez", "0"], ["BZPOPMAX", "ez", "0"], ["EXEC"]],
    "with-data": [["RPUSH", "l", "a", "b", "c"], ["BLPOP", "none", "l", "0"], ["BRPOP", "l", "0"],
                  ["BLMOVE", "l", "l", "LEFT", "RIGHT", "0"], ["LRANGE", "l", "0", "-1"],
                  ["BRPOPLPUSH", "l", "l2", "0"], ["EXISTS", "l"],
                  ["ZADD", "z", "1.5", "a", "2", "b", "3", "c"], ["BZPOPMIN", "none", "z", "0"], ["BZPOPMAX", "z", "0"],
                  ["ZPOPMIN", "z", "5"], ["EXISTS", "z"]],
    "bad-input": [["SET", "s", "x"], ["BLPOP", "none", "s", "0"], ["BLPOP", "l", "-1"], ["BLPOP", "l", "abc"],
                  ["BLMOVE", "l", "d", "UP", "LEFT", "0"], ["RPUSH", "l", "a"], ["BLMOVE", "l", "s", "LEFT", "LEFT", "0"],
                  ["LLEN", "l"], ["BLPOP", "l"], ["BZPOPMIN", "s", "0"], ["BZPOPMIN", "l", "0"], ["BZPOPMAX", "z", "x"],
                  ["BLPOP", "l", "1_0"], ["BLPOP", "l", " 1"], ["BLPOP", "l", "nan"], ["BLPOP", "l", "inf"],
                  ["ZADD", "z", "1_0", "m"], ["INCRBYFLOAT", "f", "1_0"], ["HINCRBYFLOAT", "h", "f", "1_0"]],
}


@pytest.mark.parametrize("case", sorted(_BLOCKING_PIPELINES))
def test_blocking_commands_that_need_not_block_match_real_redis(servers, case):
    replies = {kind: _pipeline_reply(servers(kind).port, _BLOCKING_PIPELINES[case], None) for kind in ("py", "7.0")}
    assert replies["py"] == replies["7.0"]


def test_parked_and_pushing_clients_keep_their_own_protocol(py):
    """Replies built later (a timeout, a served pop) are spelled in the parked client's protocol,
    and the pushing client's next reply in its own (bytes as redis-server 7.0 sends them)."""
    resp3, parked2, pusher = Raw(py.port), Raw(py.port), Raw(py.port)

    def wait_parked(count: int) -> None:
        wait_until(lambda: py.info("clients")["blocked_clients"] == count, 5, f"{count} parked client(s)")

    try:
        resp3.send(b"HELLO 3\r\n")
        resp3.sock.recv(65536)
        parked2.send(b"BLPOP none 0.5\r\n")  # RESP2; times out after a RESP3 client ran a command
        wait_parked(1)
        resp3.send(b"PING\r\n")
        assert resp3.read() == b"+PONG\r\n"
        assert parked2.read() == b"*-1\r\n"

        resp3.send(b"BZPOPMIN q 5\r\n")  # RESP3 parked, served by a RESP2 client whose pipeline goes on
        wait_parked(1)
        pusher.send(b"ZADD q 2 b\r\nZSCORE q none\r\n")
        assert pusher.read(2) == b":1\r\n$-1\r\n"
        assert resp3.read(6) == b"*3\r\n$1\r\nq\r\n$1\r\nb\r\n,2\r\n"
    finally:
        for conn in (resp3, parked2, pusher):
            conn.close()
