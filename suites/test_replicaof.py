"""REPLICAOF / SLAVEOF: both spellings, NO ONE, and re-pointing a replica to another master.

Seed: `slaveof 127.0.0.1 6379` makes a node a replica; `slaveof no one` makes it a master again
and keeps its data. Redis documents that NO ONE also starts a new history: a fresh replid,
with the old one kept as master_replid2 so the node's own replicas can continue.
"""

from __future__ import annotations

import pytest

from harness.capture import assert_same_data
from harness.ledger import SyncWatch
from harness.waits import wait_until


@pytest.mark.parametrize("spelling", ["REPLICAOF", "SLAVEOF"])
def test_both_spellings_make_a_replica(server, topology_factory, spelling: str) -> None:
    """REPLICAOF and SLAVEOF both turn a master into a replica"""
    topo = topology_factory("m <- r1", link=False)
    topo["m"].client().set("k", "v")
    assert topo.replicaof("r1", "m", spelling=spelling) == "OK"
    assert topo["r1"].info("replication")["role"] == "slave"  # at once, before the sync
    topo.wait_in_sync()
    assert topo["r1"].client().get("k") == "v"
    assert topo.replicaof("r1", "m", spelling=spelling) == "OK Already connected to specified master"


def test_no_one_keeps_data_and_starts_a_new_history(server, topology_factory) -> None:
    """NO ONE keeps the data, stops following, and moves the old replid to master_replid2"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    m.client().set("shared", "history")
    topo.wait_in_sync()
    old_replid = m.info("replication")["master_replid"]
    offset = r1.info("replication")["slave_repl_offset"]

    assert topo.promote("r1") == "OK"
    info = r1.info("replication")
    assert info["role"] == "master"
    assert info["master_replid"] != old_replid
    assert info["master_replid2"] == old_replid
    assert info["second_repl_offset"] == offset + 1
    assert r1.client().get("shared") == "history"

    m.client().set("after-promotion", "x")
    wait_until(lambda: m.info("replication")["connected_slaves"], lambda n: n == 0,
               timeout=10, what="the old master to drop the promoted replica")
    assert r1.client().exists("after-promotion") == 0
    r1.client().set("own-write", "ok")  # a master accepts writes


def test_repoint_to_another_master(server, topology_factory) -> None:
    """Re-pointed to another master, a replica full-syncs and holds only the new master's data"""
    topo = topology_factory("m <- r1")
    topo.add_node("m2", role="master")
    m, r1, m2 = topo["m"], topo["r1"], topo["m2"]
    m.client().set("from-m", "1")
    m2.client().set("from-m2", "2")
    topo.wait_in_sync()
    assert r1.client().get("from-m") == "1"
    watch = SyncWatch(m2, "re-point to m2")

    assert topo.replicaof("r1", "m2") == "OK"
    topo.wait_in_sync()

    assert watch.delta().full == 1
    assert r1.client().exists("from-m") == 0
    assert r1.client().get("from-m2") == "2"
    assert r1.info("replication")["master_replid"] == m2.info("replication")["master_replid"]
    assert_same_data(m2, r1)


def test_slaveof_inside_multi_takes_effect_within_the_transaction(server, topology_factory) -> None:
    """SLAVEOF queued in MULTI runs at EXEC: INFO later in the same transaction shows role slave, link down"""
    topo = topology_factory("m <- r1", link=False)
    m, r1 = topo["m"], topo["r1"]
    m.client().set("k", "v")
    edge = topo.ensure_edge("r1", "m")
    pipe = r1.client().pipeline(transaction=True)
    pipe.execute_command("SLAVEOF", edge.listen_host, edge.listen_port)
    pipe.info("replication")
    _, info = pipe.execute()
    assert info["role"] == "slave"
    assert info["master_link_status"] == "down"  # the link cannot be up before EXEC returns
    wait_until(lambda: r1.info("replication")["master_link_status"], lambda s: s == "up",
               timeout=topo.wait_timeout, what="r1's link to come up after the transaction")
    wait_until(lambda: r1.client().get("k"), lambda v: v == "v", timeout=topo.wait_timeout,
               what="the master's key on r1")
