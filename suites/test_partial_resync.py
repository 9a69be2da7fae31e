"""Partial resync: a short outage is bridged from the backlog; a long one needs a full sync.

After a link drop the replica sends `PSYNC <replid> <offset+1>`. The master answers
`+CONTINUE` and replays its backlog if it still holds that offset (sync_partial_ok +1),
otherwise it falls back to `+FULLRESYNC` (sync_full +1).
"""

from __future__ import annotations

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
