"""Read/write split: writes go to the master, reads may go to replicas.

A replica refuses client writes with the exact READONLY error (`replica-read-only yes`, the
default). With `replica-read-only no` a replica accepts a write, but it stays local: Redis
never relays a replica's own writes, not even to its own sub-replicas. While its link is
down a replica keeps serving reads from its stale data unless `replica-serve-stale-data no`.
"""

from __future__ import annotations

import pytest
import redis

from harness.expectations import MASTERDOWN_ERROR, READONLY_ERROR


def test_replica_refuses_writes_with_readonly(server, topology_factory) -> None:
    """A write on a replica gets the exact READONLY error; reads work"""
    topo = topology_factory("m <- r1")
    topo["m"].client().set("k", "from-master")
    topo.wait_in_sync()
    replica = topo["r1"].client()

    with pytest.raises(redis.ReadOnlyError) as caught:
        replica.set("k", "from-replica")
    assert f"READONLY {caught.value}" == READONLY_ERROR
    assert replica.get("k") == "from-master"
    assert replica.config_get("replica-read-only") == {"replica-read-only": "yes"}


def test_writable_replica_keeps_writes_local(server, topology_factory) -> None:
    """With replica-read-only no a replica write succeeds but reaches neither master nor sub-replica"""
    topo = topology_factory("m <- r1 <- r2")
    m, r1, r2 = topo["m"], topo["r1"], topo["r2"]
    r1.client().config_set("replica-read-only", "no")

    assert r1.client().set("local", "only") is True
    m.client().set("global", "everyone")
    topo.wait_in_sync()

    assert r1.client().get("local") == "only"
    assert m.client().exists("local") == 0
    assert r2.client().exists("local") == 0  # the sub-replica gets the master's stream only
    assert r2.client().get("global") == "everyone"


def test_stale_reads_while_the_link_is_down_follow_replica_serve_stale_data(server, topology_factory) -> None:
    """Link down: a replica serves its stale data by default; with replica-serve-stale-data no it answers MASTERDOWN"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    m.client().set("k", "before-cut")
    topo.wait_in_sync()
    replica = r1.client()

    with topo.edge("r1").cut():
        topo.wait_link_down("r1")
        assert replica.get("k") == "before-cut"  # the default: stale but served
        replica.config_set("replica-serve-stale-data", "no")
        for command in (("GET", "k"), ("DBSIZE",)):
            with pytest.raises(redis.exceptions.MasterDownError) as caught:
                replica.execute_command(*command)
            assert f"MASTERDOWN {caught.value}" == MASTERDOWN_ERROR, command
        assert r1.info("replication")["master_link_status"] == "down"  # INFO is still served
        assert replica.execute_command("ROLE")[0] == "slave"
        m.client().set("k", "during-cut")

    topo.wait_in_sync()
    assert replica.get("k") == "during-cut"
