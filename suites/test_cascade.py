"""Cascade: m <- r1 <- r2, where the middle node serves the leaf.

Seed: a replica can itself be a master of further replicas, and "if 6380 goes down, 6381 can
no longer receive updates". Redis adds: the leaf carries the top master's exact stream (same
replid and offsets), and when the middle node is promoted the leaf follows its new history
with a partial resync.
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.ledger import SyncWatch
from harness.waits import wait_until


def test_leaf_gets_every_write_with_the_top_masters_offsets(server, topology_factory) -> None:
    """Every write reaches the leaf, which shares the top master's replid and offset"""
    topo = topology_factory("m <- r1 <- r2")
    m, r2 = topo["m"], topo["r2"]
    for i in range(50):
        m.client().set(f"k{i}", i)
    m.client().rpush("list", *range(10))
    topo.wait_in_sync()
    wait_until(lambda: (m.info("replication")["master_repl_offset"], r2.info("replication")["slave_repl_offset"]),
               lambda pair: pair[0] == pair[1], timeout=10, what="the leaf at the top master's offset")
    assert r2.info("replication")["master_replid"] == m.info("replication")["master_replid"]
    assert_same_data(m, r2)


def test_dead_middle_node_cuts_the_leaf_off(server, topology_factory) -> None:
    """With r1 killed, r2's link is down and writes on m do not reach it; r1 back, r2 catches up"""
    topo = topology_factory("m <- r1, witness <- r2")
    m, r1, r2, witness = topo["m"], topo["r1"], topo["r2"], topo["witness"]

    r1.kill()
    topo.wait_link_down("r2")
    m.client().set("while-r1-dead", "1")
    topo.wait_in_sync(["witness"])  # proof the write left the master...
    assert witness.client().get("while-r1-dead") == "1"
    assert r2.client().exists("while-r1-dead") == 0  # ...but the leaf cannot get it
    assert r2.info("replication")["master_link_status"] == "down"

    r1.start()  # no persistence, runtime role: r1 is an empty master now (seed fact 2)
    assert topo.replicaof("r1", "m") == "OK"
    topo.wait_in_sync()
    assert r2.client().get("while-r1-dead") == "1"
    assert_same_data(m, r2)


def test_promoted_middle_node_keeps_the_leaf_with_partial_resync(server, topology_factory) -> None:
    """r1 promoted: r2 follows r1's new history with +CONTINUE, no full sync"""
    topo = topology_factory("m <- r1 <- r2")
    m, r1, r2 = topo["m"], topo["r1"], topo["r2"]
    m.client().set("shared", "1")
    topo.wait_in_sync()
    watch = SyncWatch(r1, "leaf reconnect after its master's promotion")

    topo.promote("r1")
    new_replid = r1.info("replication")["master_replid"]
    r1.client().set("new-history", "r1")
    wait_until(lambda: r2.info("replication"),
               lambda i: i["master_link_status"] == "up" and i["master_replid"] == new_replid,
               timeout=15, what="r2 to reconnect and adopt r1's new replid")
    topo.wait_in_sync(["r2"])

    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), f"expected a partial resync of r2, got {delta}"
    assert r2.client().get("new-history") == "r1"
    assert r2.client().get("shared") == "1"
    m.client().set("old-history", "m")
    assert r2.client().exists("old-history") == 0
