"""Master restart: replicas reconnect on their own; without persistence they are wiped.

Seed fact 3: "if the master crashes, just restart it; nothing else is needed". Redis adds the
danger the seed does not mention: a master without persistence comes back empty, and its
replicas faithfully copy the empty dataset (redis-doc, "Safety of replication when master has
persistence turned off").
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.waits import wait_until

PERSISTENT = [("save", "3600 1")]


def test_replicas_reconnect_with_no_action(server, topology_factory, expect) -> None:
    """After a master restart with RDB the replicas' links come back up by themselves, data intact"""
    topo = topology_factory("m <- r1, r2", directives={"m": PERSISTENT})
    m = topo["m"]
    for i in range(100):
        m.client().set(f"k{i}", i)
    topo.wait_in_sync()

    m.stop(save=True)
    for name in ("r1", "r2"):
        topo.wait_link_down(name)
    m.start()
    topo.wait_in_sync()  # no REPLICAOF was sent: the replicas retried on their own

    assert m.client().dbsize() == 100
    stats = m.info("stats")
    if expect.master_restart_allows_psync:
        # 7.0+: the restarted master keeps its old id as replid2 and serves PSYNC from the RDB.
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (0, 2)
    else:
        assert stats["sync_full"] == 2  # 6.2 forgets its replication id at restart
    for name in ("r1", "r2"):
        assert_same_data(m, topo[name])


def test_master_without_persistence_wipes_its_replicas(server, topology_factory, recorder) -> None:
    """A master restarted without persistence comes back empty and its replicas are emptied too"""
    topo = topology_factory("m <- r1, r2")  # base conf: save "" and no AOF
    m = topo["m"]
    for i in range(100):
        m.client().set(f"k{i}", i)
    topo.wait_in_sync()
    assert topo["r1"].client().dbsize() == 100

    m.restart(keep_data=False, save=False)
    assert m.client().dbsize() == 0
    topo.wait_in_sync()

    for name in ("r1", "r2"):
        wait_until(lambda n=name: topo[n].client().dbsize(), lambda size: size == 0, timeout=10,
                   what=f"{name} to be emptied by the full sync from the empty master")
    assert m.info("stats")["sync_full"] == 2
    recorder.hazard("master restarted without persistence: both replicas lost all 100 keys "
                    "(redis-doc: safety of replication when master has persistence turned off)")
