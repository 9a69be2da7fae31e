"""Replication between the Python node and real redis-server 6.2 / 7.0 / 8.2, both directions."""

from __future__ import annotations

import pytest
import redis

from tests.pyredis.conftest import wait_offsets_equal, wait_until

SERIES = ["6.2", "7.0", "8.2"]


def _load(client) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"s:{i}", f"v{i}")
    pipe.rpush("list", *[str(i) for i in range(50)])
    pipe.hset("hash", mapping={f"f{i}": str(i) for i in range(20)})
    pipe.sadd("set", *[f"m{i}" for i in range(30)])
    pipe.zadd("zset", {f"z{i}": i * 1.5 for i in range(25)})
    pipe.set("ttl", "x", ex=1000)
    pipe.execute()


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_python_replica_of_real_master(servers, series, diskless):
    master = servers(series, repl_diskless_sync=diskless)
    replica = servers("py")
    with master.client() as m:
        _load(m)
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("after", "1")
        m.expire("after", 500)
        m.incr("counter")
        m.hincrbyfloat("hf", "x", 2.5)  # 8.2 propagates this as HSETEX
        m.incrbyfloat("f", 0.1)
        m.publish("chan", "hello")
        m.setbit("bits", 9, 1)
        m.spop("set")
        m.getdel("s:1")
        m.execute_command("SELECT", "5")
    wait_offsets_equal(master, replica)
    assert replica.digest() == master.digest()
    assert "CRITICAL" not in replica.log_text()  # every propagated command applied cleanly
    with replica.client() as r:
        assert r.get("after") == "1"
        assert 0 < r.ttl("after") <= 500
        with pytest.raises(redis.exceptions.ReadOnlyError):
            r.set("x", "y")
    m_stats = master.info("stats")
    assert m_stats["sync_full"] == 1
    # A fresh node PSYNCs with its own random id, which counts as a partial-sync error.
    assert m_stats["sync_partial_err"] == 1


@pytest.mark.parametrize("series", SERIES)
@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_real_replica_of_python_master(servers, series, diskless):
    master = servers("py", repl_diskless_sync=diskless)
    replica = servers(series)
    with master.client() as m:
        _load(m)
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("after", "1", px=100000)
        m.lpush("list", "new")
        m.incrbyfloat("float", 1.5)
        for i in range(50):
            m.hset(f"h:{i % 5}", str(i), "v")
    wait_offsets_equal(master, replica)
    assert replica.digest() == master.digest()
    info = master.info()
    assert info["connected_slaves"] == 1
    assert info["slave0"]["state"] == "online"
    assert master.info("stats")["sync_full"] == 1


@pytest.mark.parametrize("series", SERIES)
def test_partial_resync_python_replica_after_link_kill(servers, series):
    master = servers(series)
    replica = servers("py")
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("a", "1")
    wait_offsets_equal(master, replica)
    with replica.client() as r:
        assert r.client_kill_filter(_type="master") == 1
    with master.client() as m:
        m.set("b", "2")
    replica.wait_link_up()
    wait_offsets_equal(master, replica)
    stats = master.info("stats")
    assert stats["sync_full"] == 1
    assert stats["sync_partial_ok"] == 1
    assert replica.digest() == master.digest()


@pytest.mark.parametrize("series", SERIES)
def test_partial_resync_real_replica_after_link_kill(servers, series):
    master = servers("py")
    replica = servers(series)
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("a", "1")
    wait_offsets_equal(master, replica)
    with master.client() as m:
        assert m.client_kill_filter(_type="replica") == 1
        m.set("b", "2")
    wait_until(lambda: master.info("stats")["sync_partial_ok"] == 1, 15, "partial resync on the Python master")
    replica.wait_link_up()
    wait_offsets_equal(master, replica)
    assert master.info("stats")["sync_full"] == 1
    assert replica.digest() == master.digest()


@pytest.mark.parametrize("series", ["7.0", "8.2"])
def test_cascade_real_python_real(servers, series):
    """real master -> Python middle -> real leaf: the leaf sees the top's replid and offsets."""
    top = servers(series)
    middle = servers("py")
    leaf = servers(series)
    middle.replicaof(top)
    middle.wait_link_up()
    leaf.replicaof(middle)
    leaf.wait_link_up()
    with top.client() as t:
        for i in range(100):
            t.set(f"k{i}", i)
    wait_offsets_equal(top, leaf)
    assert leaf.info()["master_replid"] == top.info()["master_replid"]
    assert leaf.digest() == top.digest()
    # Promote the middle: the leaf continues with a partial resync on the new id.
    with middle.client() as mc:
        mc.execute_command("REPLICAOF", "NO", "ONE")
        mc.set("promoted", "1")
    wait_until(lambda: leaf.info()["master_replid"] == middle.info()["master_replid"], 15, "leaf adopts new replid")
    leaf.wait_link_up()
    wait_offsets_equal(middle, leaf)
    assert middle.info("stats")["sync_partial_ok"] >= 1
    assert leaf.digest() == middle.digest()


def test_cascade_python_real_python(servers):
    top = servers("py")
    middle = servers("7.0")
    leaf = servers("py")
    middle.replicaof(top)
    middle.wait_link_up()
    leaf.replicaof(middle)
    leaf.wait_link_up()
    with top.client() as t:
        for i in range(100):
            t.rpush("l", i)
    wait_offsets_equal(top, leaf)
    assert leaf.digest() == top.digest()
