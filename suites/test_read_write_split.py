"""Read/write split: writes go to the master, reads may go to replicas.

A replica refuses client writes with the exact READONLY error (`replica-read-only yes`, the
default). With `replica-read-only no` a replica accepts a write, but it stays local: Redis
never relays a replica's own writes, not even to its own sub-replicas.
"""

from __future__ import annotations

import pytest
import redis

from harness.expectations import READONLY_ERROR


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
