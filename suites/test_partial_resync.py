"""Partial resync: a short outage is bridged from the backlog; a long one needs a full sync.

After a link drop the replica sends `PSYNC <replid> <offset+1>`. The master answers
`+CONTINUE` and replays its backlog if it still holds that offset (sync_partial_ok +1),
otherwise it falls back to `+FULLRESYNC` (sync_full +1).
"""

from __future__ import annotations

import socket

from harness.capture import assert_same_data
from harness.datasets import fill_bytes
from harness.ledger import SyncWatch


def test_short_cut_resumes_from_the_backlog(server, topology_factory) -> None:
    """A cut while less than the backlog is written ends in +CONTINUE, not a full sync"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-backlog-size", "1mb")]})
    m, r1 = topo["m"], topo["r1"]
    m.client().set("before", "cut")
    topo.wait_in_sync()
    replid = m.info("replication")["master_replid"]
    watch = SyncWatch(m, "reconnect after a short partition")

    with topo.edge("r1").cut():
        topo.wait_link_down("r1")
        conn = m.client()
        for i in range(100):
            conn.set(f"while-cut:{i}", i)
    topo.wait_in_sync()

    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), f"expected one partial resync, got {delta}"
    assert r1.client().get("while-cut:99") == "99"
    assert m.info("replication")["master_replid"] == replid
    assert_same_data(m, r1)


def test_cut_longer_than_the_backlog_needs_a_full_sync(server, topology_factory) -> None:
    """A cut during which more is written than the backlog holds ends in a full resync"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-backlog-size", "16kb")]})
    m, r1 = topo["m"], topo["r1"]
    topo.wait_in_sync()
    watch = SyncWatch(m, "reconnect after the backlog overflowed")

    with topo.edge("r1").cut():
        topo.wait_link_down("r1")
        keys = fill_bytes(m.client(), 400_000, prefix="overflow", value_size=500)
    topo.wait_in_sync()

    delta = watch.delta()
    assert delta.full == 1 and delta.partial_ok == 0, f"expected one full resync, got {delta}"
    assert r1.client().dbsize() == keys
    assert_same_data(m, r1)


def _raw_psync(node, replid: str, offset: str) -> bytes:
    """One PSYNC from a bare socket (no REPLCONF capa): the master's first reply line."""
    with socket.create_connection((node.host, node.port), timeout=10) as sock:
        sock.sendall(f"PSYNC {replid} {offset}\r\n".encode())
        data = b""
        while not data.lstrip(b"\n").count(b"\r\n"):  # skip keepalive newlines
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.lstrip(b"\n").split(b"\r\n")[0]


def test_psync_requests_follow_the_acceptance_rule(server, topology_factory) -> None:
    """Raw PSYNCs: a bad offset is refused, the backlog's first byte continues, an unknown id full-syncs; the master lives"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-backlog-size", "1mb")]})
    m = topo["m"]
    m.client().set("k", "v")
    topo.wait_in_sync()
    info = m.info("replication")
    replid, first = info["master_replid"], info["repl_backlog_first_byte_offset"]
    before = m.info("stats")

    assert _raw_psync(m, replid, "notanumber") == b"-ERR value is not an integer or out of range"
    assert _raw_psync(m, replid, str(first)) == b"+CONTINUE"  # the oldest byte the backlog holds
    unknown = _raw_psync(m, "f" * 40, str(first))
    assert unknown.startswith(b"+FULLRESYNC " + replid.encode() + b" "), unknown

    after = m.info("stats")
    assert after["sync_partial_ok"] - before["sync_partial_ok"] == 1
    assert after["sync_partial_err"] - before["sync_partial_err"] == 1
    assert m.client().ping() is True
    topo.wait_in_sync()  # the real replica was never disturbed
