"""Full sync: the snapshot carries what the master had, and writes made during it follow it.

Seed: the replica sends SYNC (today PSYNC), the master runs BGSAVE and buffers new writes,
sends the RDB, then the buffered writes. Checked in both transfer modes: disk (`$<len>`) and
diskless (`$EOF:` marker).
"""

from __future__ import annotations

import pytest

from harness.capture import assert_same_data
from harness.datasets import fill_bytes, write_all_types, write_large_values
from harness.ledger import SyncWatch
from harness.waits import wait_until

MODES = {"disk": "no", "diskless": "yes"}


@pytest.mark.parametrize("mode", list(MODES))
def test_snapshot_carries_existing_data(server, topology_factory, mode: str) -> None:
    """Data written before REPLICAOF arrives through one full sync"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-diskless-sync", MODES[mode])]}, link=False)
    m, r1 = topo["m"], topo["r1"]
    written = 0
    for db in (0, 3):
        written += write_all_types(m.client(), prefix=f"pre{db}", db=db)
    written += write_large_values(m.client())
    watch = SyncWatch(m, "initial sync")

    topo.replicaof("r1", "m")
    topo.wait_in_sync()

    delta = watch.delta()
    assert delta.full == 1, f"expected exactly one full sync, counters moved by {delta}"
    assert delta.partial_ok == 0
    dataset = assert_same_data(m, r1)
    assert len(dataset) == written
    assert r1.client().dbsize() == m.client().dbsize()
    assert r1.client().ttl("pre0:ttl:0") > 0  # expiry travels with the snapshot
    info = r1.info("replication")
    assert info["master_replid"] == m.info("replication")["master_replid"]
    assert info["master_sync_in_progress"] == 0


@pytest.mark.parametrize("mode", list(MODES))
def test_writes_during_snapshot_arrive_after_it(server, topology_factory, mode: str) -> None:
    """Writes made while the snapshot is in flight (slowed by a bandwidth toxic) arrive after it"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-diskless-sync", MODES[mode])]}, link=False)
    m, r1 = topo["m"], topo["r1"]
    keys = fill_bytes(m.client(), 1_500_000, prefix="snap")
    watch = SyncWatch(m, "full sync under a bandwidth limit")
    edge = topo.ensure_edge("r1", "m")

    with edge.bandwidth(500, stream="downstream"):  # ~3 s for the snapshot
        topo.replicaof("r1", "m")
        wait_until(lambda: r1.info("replication"), lambda i: i.get("master_sync_in_progress") == 1,
                   timeout=10, what="the replica to start receiving the snapshot")
        conn = m.client()
        for i in range(200):
            conn.set(f"during:{i}", i)
        conn.rpush("during:list", *range(50))
        conn.incrby("during:counter", 7)
        # Still transferring: the buffered writes cannot have been applied yet.
        assert r1.info("replication")["master_sync_in_progress"] == 1
    topo.wait_in_sync(timeout=30)

    assert watch.delta().full == 1
    replica = r1.client()
    assert replica.dbsize() == keys + 202
    assert replica.get("during:199") == "199"
    assert replica.lrange("during:list", 0, -1) == [str(i) for i in range(50)]
    assert replica.get("during:counter") == "7"
    assert_same_data(m, r1)


@pytest.mark.min_version("8.0", "rdb-channel replication is new in Redis 8.0")
def test_rdb_channel_full_sync(server, topology_factory) -> None:
    """Redis 8 rdb-channel sync (snapshot on a second connection) delivers the same data"""
    directives = [("repl-diskless-sync", "yes"), ("repl-rdb-channel", "yes")]
    topo = topology_factory("m <- r1", directives={"*": directives}, link=False)
    m, r1 = topo["m"], topo["r1"]
    write_all_types(m.client(), prefix="chan")
    watch = SyncWatch(m, "rdb-channel sync")
    topo.replicaof("r1", "m")
    topo.wait_in_sync()
    assert watch.delta().full == 1
    assert_same_data(m, r1)
    assert "rdb-channel" in r1.log_text() or "rdb channel" in r1.log_text().lower()
