"""Manual failover: promote a replica, re-point the others and the old master, without full syncs.

What Sentinel or an operator does when a master fails: `REPLICAOF NO ONE` on one replica, then
`REPLICAOF <promoted>` on the rest. PSYNC2 (Redis 4.0+) makes this cheap: the promoted replica
keeps its old master's id as `master_replid2` and serves partial resyncs to everyone who shared
that history up to the promotion offset (spec §6; checklist items 48 and 114).
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.ledger import SyncWatch
from harness.waits import wait_until


def test_sibling_follows_the_promoted_replica_with_a_partial_resync(server, topology_factory) -> None:
    """Master killed, r1 promoted: r2 re-pointed at r1 continues from the shared history (+CONTINUE)"""
    topo = topology_factory("m <- r1, r2")
    m, r1, r2 = topo["m"], topo["r1"], topo["r2"]
    for i in range(50):
        m.client().set(f"before-failover:{i}", i)
    topo.wait_in_sync()
    old_replid = m.info("replication")["master_replid"]

    m.kill()
    topo.wait_link_down("r1")
    topo.wait_link_down("r2")
    watch = SyncWatch(r1, "r2 re-pointed at the promoted r1")
    topo.promote("r1")
    promoted = r1.info("replication")
    assert promoted["role"] == "master"
    assert promoted["master_replid2"] == old_replid
    assert topo.replicaof("r2", "r1") == "OK"
    topo.wait_in_sync(["r2"])

    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), f"r2 must continue from r1's backlog: {delta}"
    assert r2.info("replication")["master_replid"] == promoted["master_replid"]
    r1.client().set("after-failover", "r1")
    topo.wait_in_sync(["r2"])
    assert r2.client().get("after-failover") == "r1"
    assert r2.client().get("before-failover:49") == "49"
    assert_same_data(r1, r2)


def test_old_master_rejoins_under_the_promoted_replica_with_a_partial_resync(server, topology_factory) -> None:
    """Switchover: r1 promoted while m lives, then m becomes r1's replica by PSYNC, keeping its data"""
    # No PINGs into m's stream after the promotion, so m's offset stays within r1's history.
    topo = topology_factory("m <- r1", directives={"m": [("repl-ping-replica-period", "3600")]})
    m, r1 = topo["m"], topo["r1"]
    for i in range(50):
        m.client().set(f"before-switchover:{i}", i)
    topo.wait_in_sync()

    watch = SyncWatch(r1, "old master joining the promoted replica")
    topo.promote("r1")
    wait_until(lambda: m.info("replication")["connected_slaves"], lambda n: n == 0, timeout=topo.wait_timeout,
               what="m to see r1 leave")
    r1.client().set("first-write-on-r1", "1")
    assert topo.replicaof("m", "r1") == "OK"
    topo.wait_in_sync(["m"])

    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), f"m must continue from r1's backlog: {delta}"
    assert m.info("replication")["role"] == "slave"
    assert m.client().get("first-write-on-r1") == "1"
    assert_same_data(r1, m)
