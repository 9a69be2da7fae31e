"""Incremental sync: after the full sync, every write the master executes reaches the replica.

Seed: "every write the master executes is sent to the replicas, which execute the same
command". Each write type is applied on the master, then the replica must hold the same value
and the replica's applied offset must equal the master's.
"""

from __future__ import annotations

import time

from harness.capture import assert_same_data
from harness.expectations import Expect
from harness.ledger import SyncWatch
from harness.stream_tap import StreamTap
from harness.waits import wait_until


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


def test_lazy_expire_del_reaches_the_replica_before_the_write_that_reuses_the_key(
    server, topology_factory
) -> None:
    """A key that expired unseen is deleted on the replica before the write that recreates it with another type"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    w = m.client()
    w.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # only a lookup may expire it now
    w.set("reused", "a string")
    w.pexpire("reused", 1)
    expired_after = time.time() + 0.005
    topo.wait_in_sync()
    # Wait on the clock, not on the key: reading the key would expire it by itself.
    wait_until(time.time, lambda now: now > expired_after, timeout=5, what="the key's 1 ms TTL to pass")

    assert w.rpush("reused", "a list now") == 1  # the write's lookup expires the string first
    assert w.execute_command("WAIT", 1, 5000) == 1
    topo.wait_in_sync()
    assert r1.client().type("reused") == "list"
    assert r1.client().lrange("reused", 0, -1) == ["a list now"]
    assert r1.client().ttl("reused") == -1
    assert_same_data(m, r1)


def test_replica_query_buffer_limit_and_its_master_link(server, topology_factory, recorder) -> None:
    """A value larger than the replica's client-query-buffer-limit arrives without dropping the link (6.2: drop and full resync)"""
    topo = topology_factory("m <- r1", directives={"m": [("client-query-buffer-limit", "2mb")],
                                                   "r1": [("client-query-buffer-limit", "1mb")]})
    m, r1 = topo["m"], topo["r1"]
    watch = SyncWatch(m, "a value past the replica's query buffer limit")
    big = "q" * (1024 * 1024 + 100 * 1024)  # more than the 1 MB backlog too: no partial resync
    m.client().set("big", big)
    topo.wait_in_sync()

    assert r1.client().strlen("big") == len(big)
    delta = watch.delta()
    if Expect(server.replica).master_link_obeys_query_buffer_limit:
        assert "Closing client that reached max query buffer length" in r1.log_text()
        assert (delta.full, delta.partial_ok) == (1, 0), f"6.2 re-fetches the value by a full sync: {delta}"
        recorder.hazard(f"{server.replica.label} replica closed its master link on a {len(big)}-byte value "
                        "over its 1 MB client-query-buffer-limit and needed a full resync (7.0 exempts the master link)")
    else:
        assert (delta.full, delta.partial_ok) == (0, 0), f"the link must not have dropped: {delta}"
        assert "max query buffer length" not in r1.log_text()


def test_a_replica_relays_every_write_verbatim_even_flushes_of_empty_dbs(server, topology_factory) -> None:
    """Tapped below a replica: SET, FLUSHDB, FLUSHALL (also on empty dbs, 7.0+), INCR arrive in order; GETSET and SET GET as SET"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    w = m.client()
    with StreamTap(r1) as tap:  # a sub-replica's view: what r1 relays from m
        w.set("a", "1")
        w.flushdb()
        w.set("b", "2")
        w.flushall()
        for _ in range(3):
            w.flushdb()  # already empty: still propagated
        for _ in range(3):
            w.flushall()
        w.set("g", "old")
        assert w.getset("g", "new") == "old"
        assert w.set("g", "newer", get=True) == "new"
        w.execute_command("INCR", "counter")  # redis-py's incr() would send INCRBY
        tap.read_until(lambda c: c[0].upper() == b"INCR", "INCR relayed by r1")
    empty_flushdbs = ["FLUSHDB"] * 3 if Expect(server.master).flushdb_of_an_empty_db_is_propagated else []
    assert tap.names() == ["SET", "FLUSHDB", "SET", "FLUSHALL", *empty_flushdbs,
                           "FLUSHALL", "FLUSHALL", "FLUSHALL", "SET", "SET", "SET", "INCR"]
    sets = [c for c in tap.commands if c[0].upper() == b"SET" and c[1] == b"g"]
    assert [c[2] for c in sets] == [b"old", b"new", b"newer"]
    assert all(len(c) == 3 for c in sets), f"GETSET / SET ... GET must be propagated as a plain SET: {sets}"
    topo.wait_in_sync()
    assert r1.client().dbsize() == 2
    assert_same_data(m, r1)
