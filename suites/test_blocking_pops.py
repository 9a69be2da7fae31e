"""Blocking pops: BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN and BZPOPMAX reach replicas as plain pops.

A master never sends a blocking command down the stream: a pop that finds data, or a parked
client served when another client pushes, is propagated as LPOP / RPOP / RPOPLPUSH / LMOVE /
ZPOPMIN / ZPOPMAX (checklist items 7–16), so a replica never blocks on its master's link. A
master that is turned into a replica releases its parked clients with the UNBLOCKED error
(item 17).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from harness.capture import assert_same_data
from harness.expectations import UNBLOCKED_ERROR
from harness.pyredis.resp import command
from harness.stream_tap import StreamTap
from harness.waits import wait_until

DIRECTIONS = [("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"), ("RIGHT", "RIGHT")]


@contextlib.contextmanager
def parked(node, *args: str) -> Iterator[Callable[[int], bytes]]:
    """Send one blocking command on a raw connection; yields `reply(size)` to read its answer.

    The connection is closed when the block ends, also when the test fails before reading.
    """
    sock = socket.create_connection((node.host, node.port), timeout=10)

    def reply(expected_size: int) -> bytes:
        data = b""
        try:
            while len(data) < expected_size:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise AssertionError(f"no reply to {' '.join(args)} within 10 s (got {data!r})") from None
        return data

    try:
        sock.sendall(command([a.encode() for a in args]))
        yield reply
    finally:
        sock.close()


def _wait_parked(node, count: int = 1) -> None:
    wait_until(lambda: node.info("clients")["blocked_clients"], lambda n: n == count, timeout=10,
               what=f"{count} client(s) parked on {node.name}")


def _plain(tap: StreamTap, name: bytes) -> list[bytes]:
    tap.read_until(lambda c: c[0].upper() == name, f"{name.decode()} in the stream")
    return next(c for c in tap.commands if c[0].upper() == name)


def test_pops_that_find_data_are_propagated_as_plain_pops(server, topology_factory) -> None:
    """BLPOP, BRPOP, BRPOPLPUSH, BLMOVE (four directions), BZPOPMIN/MAX with data: the stream carries the plain pops"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    w = m.client()
    with StreamTap(m) as tap:
        w.rpush("src", "a", "b", "c", "d", "e")
        assert w.blpop(["src"], 1) == ("src", "a")
        assert w.brpop(["src"], 1) == ("src", "e")
        assert w.brpoplpush("src", "dst", 1) == "d"
        w.rpush("src", "f", "g", "h")  # src: b c f g h
        for wherefrom, whereto in DIRECTIONS:
            w.blmove("src", "dst", 1, wherefrom, whereto)
        w.zadd("z", {"low": 1, "mid": 2, "high": 3})
        assert w.bzpopmin(["z"], 1) == ("z", "low", 1.0)
        assert w.bzpopmax(["z"], 1) == ("z", "high", 3.0)
        tap.read_until(lambda c: c[0].upper() == b"ZPOPMAX", "ZPOPMAX in the stream")
    assert tap.names() == ["RPUSH", "LPOP", "RPOP", "RPOPLPUSH", "RPUSH", "LMOVE", "LMOVE", "LMOVE", "LMOVE",
                           "ZADD", "ZPOPMIN", "ZPOPMAX"]
    assert [c[1:] for c in tap.commands if c[0].upper() == b"LMOVE"] == [
        [b"src", b"dst", wherefrom.encode(), whereto.encode()] for wherefrom, whereto in DIRECTIONS
    ]
    topo.wait_in_sync()
    assert r1.client().lrange("src", 0, -1) == ["f"]
    assert r1.client().lrange("dst", 0, -1) == ["h", "b", "d", "c", "g"]
    assert r1.client().zrange("z", 0, -1) == ["mid"]
    assert_same_data(m, r1)


def test_parked_blmove_in_every_direction_is_propagated_as_lmove(server, topology_factory, expect) -> None:
    """BLMOVE parked on an empty list, served by a push, in all four directions: LMOVE with the same directions"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    spell = str.lower if expect.served_blmove_propagates_lowercase_directions else str
    with StreamTap(m) as tap:
        for i, (wherefrom, whereto) in enumerate(DIRECTIONS):
            with parked(m, "BLMOVE", f"q{i}", "dst", wherefrom, whereto, "10") as reply:
                _wait_parked(m)
                m.client().rpush(f"q{i}", "head", "tail")
                expected = b"$4\r\nhead\r\n" if wherefrom == "LEFT" else b"$4\r\ntail\r\n"
                assert reply(len(expected)) == expected
        tap.read_until(lambda c: c[:2] == [b"LMOVE", b"q3"], "the last LMOVE in the stream")
    assert [c[1:] for c in tap.commands if c[0].upper() == b"LMOVE"] == [
        [f"q{i}".encode(), b"dst", spell(wherefrom).encode(), spell(whereto).encode()]
        for i, (wherefrom, whereto) in enumerate(DIRECTIONS)
    ]
    topo.wait_in_sync()
    assert r1.client().lrange("dst", 0, -1) == ["tail", "head", "head", "tail"]
    assert_same_data(m, r1)


@pytest.mark.parametrize(
    "blocking, push, plain, reply",
    [
        (["BLPOP", "q", "10"], ["RPUSH", "q", "a", "b"], b"LPOP", b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"),
        (["BRPOPLPUSH", "q", "dst", "10"], ["RPUSH", "q", "a", "b"], b"RPOPLPUSH", b"$1\r\nb\r\n"),
        (["BLMOVE", "q", "dst", "RIGHT", "LEFT", "10"], ["RPUSH", "q", "a", "b"], b"LMOVE", b"$1\r\nb\r\n"),
        (["BZPOPMIN", "q", "10"], ["ZADD", "q", "1", "a", "2", "b"], b"ZPOPMIN",
         b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n"),
    ],
    ids=["blpop", "brpoplpush", "blmove", "bzpopmin"],
)
def test_parked_client_served_by_a_push_is_propagated_as_the_plain_pop(
    server, topology_factory, blocking, push, plain, reply
) -> None:
    """A client parked on an empty key is served by another client's push; the stream carries the push, then the plain pop"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    with StreamTap(m) as tap:
        with parked(m, *blocking) as read_reply:
            _wait_parked(m)
            assert m.client().execute_command(*push) == 2
            assert read_reply(len(reply)) == reply
        served = _plain(tap, plain)
    assert tap.names() == [push[0], plain.decode()]
    assert served[1] == b"q"
    assert m.info("clients")["blocked_clients"] == 0
    topo.wait_in_sync()
    assert r1.client().execute_command("ZCARD" if push[0] == "ZADD" else "LLEN", "q") == 1
    assert_same_data(m, r1)


def test_parked_client_times_out_with_a_null_reply(server, topology_factory) -> None:
    """BLPOP and BLMOVE that wait out their timeout answer a null array, and nothing is propagated"""
    topo = topology_factory("m <- r1")
    m = topo["m"]
    with StreamTap(m) as tap:
        started = time.monotonic()
        with parked(m, "BLPOP", "nothing", "0.3") as reply:
            assert reply(5) == b"*-1\r\n"
        assert time.monotonic() - started >= 0.25
        # The timeout reply of every list command is the null array, BLMOVE's too (not a null bulk).
        with parked(m, "BLMOVE", "nothing", "dst", "LEFT", "LEFT", "0.2") as reply:
            assert reply(5) == b"*-1\r\n"
        m.client().set("marker", "after-the-timeouts")
        tap.read_until(lambda c: c[0].upper() == b"SET", "the marker SET in the stream")
    assert tap.names() == ["SET"]  # no pop of any kind went down the stream
    assert m.client().exists("nothing", "dst") == 0


def test_master_turned_replica_releases_parked_clients(server, topology_factory) -> None:
    """Clients parked on a master get the UNBLOCKED error when it is made a replica"""
    topo = topology_factory("m <- r1")
    topo.add_node("m2", role="master")
    m = topo["m"]
    with parked(m, "BLPOP", "q", "0") as reply:
        _wait_parked(m)
        assert topo.replicaof("m", "m2") == "OK"
        expected = f"-{UNBLOCKED_ERROR}\r\n".encode()
        assert reply(len(expected)) == expected
    assert m.info("clients")["blocked_clients"] == 0
