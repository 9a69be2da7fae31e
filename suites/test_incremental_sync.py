"""Incremental sync: after the full sync, every write the master executes reaches the replica.

Seed: "every write the master executes is sent to the replicas, which execute the same
command". Each write type is applied on the master, then the replica must hold the same value
and the replica's applied offset must equal the master's.
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.ledger import SyncWatch


def test_every_write_type_reaches_the_replica(server, topology_factory) -> None:
    """Strings, lists, hashes, sets, sorted sets, EXPIRE, DEL, SELECT, MULTI/EXEC reach the replica"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    watch = SyncWatch(m, "streaming")
    w = m.client()
    w.set("s", "one")
    w.append("s", "+two")
    w.incrby("counter", 41)
    w.incr("counter")
    w.rpush("l", "a", "b", "c")
    w.lpush("l", "z")
    w.lpop("l")
    w.hset("h", mapping={"f1": "v1", "f2": "v2"})
    w.hdel("h", "f2")
    w.hincrby("h", "n", 5)
    w.sadd("set", "x", "y", "z")
    w.srem("set", "y")
    w.zadd("z", {"a": 1.5, "b": 2.5})
    w.zincrby("z", 10, "a")
    w.set("ttl", "v")
    w.expire("ttl", 1000)
    w.set("gone", "soon")
    w.delete("gone")
    w.execute_command("SELECT", 5)
    w.set("in-db5", "five")
    w.execute_command("SELECT", 0)
    with m.client().pipeline(transaction=True) as tx:
        tx.set("tx:a", "1").incr("tx:a").rpush("tx:l", "q")
        assert tx.execute() == [True, 2, 1]
    topo.wait_in_sync()

    r = r1.client()
    assert r.get("s") == "one+two"
    assert r.get("counter") == "42"
    assert r.lrange("l", 0, -1) == ["a", "b", "c"]
    assert r.hgetall("h") == {"f1": "v1", "n": "5"}
    assert r.smembers("set") == {"x", "z"}
    assert r.zrange("z", 0, -1, withscores=True) == [("b", 2.5), ("a", 11.5)]
    assert 0 < r.ttl("ttl") <= 1000
    assert r.exists("gone") == 0
    assert r.get("tx:a") == "2" and r.lrange("tx:l", 0, -1) == ["q"]
    r.execute_command("SELECT", 5)
    assert r.get("in-db5") == "five"
    assert_same_data(m, r1)
    assert watch.delta().kind == "none"  # streaming needs no resync of any kind

    offsets = topo.offsets()
    assert offsets["r1"]["slave_repl_offset"] == offsets["m"]["master_repl_offset"]


def test_flushall_empties_the_replica(server, topology_factory) -> None:
    """FLUSHALL on the master empties every db of the replica"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    w = m.client()
    for db in (0, 1, 7):
        w.execute_command("SELECT", db)
        w.set(f"k{db}", db)
    topo.wait_in_sync()
    assert sorted(r1.info("keyspace")) == ["db0", "db1", "db7"]

    m.client().flushall()
    topo.wait_in_sync()
    assert r1.info("keyspace") == {}
    assert r1.client().dbsize() == 0


def test_offsets_advance_by_the_bytes_of_the_stream(server, topology_factory) -> None:
    """The replica's offset advances by exactly the bytes the master adds to its stream"""
    topo = topology_factory("m <- r1", directives={"*": [("repl-ping-replica-period", "3600")]})
    m, r1 = topo["m"], topo["r1"]
    topo.wait_in_sync()
    before = m.info("replication")["master_repl_offset"]
    m.client().set("after", "1")  # SELECT 0 (23 bytes) may precede it once
    topo.wait_in_sync()
    after = m.info("replication")["master_repl_offset"]
    set_bytes = len(b"*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\n1\r\n")
    assert after - before in (set_bytes, set_bytes + 23)
    assert r1.info("replication")["slave_repl_offset"] == after
