"""Command behaviour of the Python node over redis-py (real socket), including expiry and MULTI."""

from __future__ import annotations

import time

import pytest
import redis

from tests.pyredis.conftest import wait_until


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.getset("k", "x") == "w"
    assert r.append("k", "yz") == 3
    assert r.strlen("k") == 3
    assert r.getrange("k", 1, -1) == "yz"
    assert r.setrange("k", 5, "!") == 6
    assert r.get("k") == "xyz\x00\x00!"
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "nope") == ["1", "2", None]
    assert r.incr("a") == 2 and r.incrby("a", 10) == 12 and r.decr("a") == 11 and r.decrby("a", 1) == 10
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.getdel("b") == "2" and r.get("b") is None
    assert r.setnx("n", "1") is True and r.setnx("n", "2") is False
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("k")
    r.set("big", str(2**63 - 1))
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.incr("big")


def test_keys_and_dbs(r, py):
    r.set("a", 1)
    r.lpush("l", 1)
    assert r.exists("a", "l", "zz") == 2
    assert r.type("l") == "list" and r.type("zz") == "none"
    assert r.rename("a", "b") is True
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename("a", "c")
    assert sorted(r.keys("*")) == ["b", "l"]
    assert r.dbsize() == 2
    assert r.move("b", 2) is True
    assert r.exists("b") == 0
    with redis.Redis(port=py.port, db=2, decode_responses=True) as db2:
        assert db2.get("b") == "1" and db2.dbsize() == 1
        db2.flushdb()
        assert db2.dbsize() == 0
    assert r.dbsize() == 1
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 16)


def test_scan_returns_every_key(r):
    for i in range(500):
        r.set(f"key:{i}", i)
    seen = set(r.scan_iter(count=37))
    assert seen == {f"key:{i}" for i in range(500)}
    assert set(r.scan_iter(match="key:1?")) == {f"key:1{i}" for i in range(10)}


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert r.lpop("l") == "z" and r.rpop("l") == "c"
    assert r.lindex("l", -1) == "b" and r.llen("l") == 2
    r.lset("l", 0, "A")
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset("l", 9, "x")
    r.rpush("l", "A", "A")
    assert r.lrem("l", 2, "A") == 2
    assert r.lrange("l", 0, -1) == ["b", "A"]
    r.rpush("l", 1, 2, 3)
    assert r.ltrim("l", 1, 2) is True and r.lrange("l", 0, -1) == ["A", "1"]
    assert r.rpoplpush("l", "l2") == "1"
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == "A"
    assert r.exists("l") == 0 and r.lrange("l2", 0, -1) == ["1", "A"]


def test_hashes_sets_zsets(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hget("h", "a") == "1" and r.hmget("h", "a", "x") == ["1", None]
    assert r.hincrby("h", "a", 5) == 6 and r.hlen("h") == 2 and r.hexists("h", "b")
    assert sorted(r.hkeys("h")) == ["a", "b"] and r.hdel("h", "a", "q") == 1
    assert r.sadd("s", "a", "b", "c") == 3 and r.srem("s", "a") == 1
    assert r.smembers("s") == {"b", "c"} and r.scard("s") == 2 and r.sismember("s", "b")
    assert r.spop("s") in {"b", "c"}
    r.sadd("s2", "x")
    assert r.sunionstore("u", ["s", "s2"]) == 2
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zincrby("z", 10, "a") == 11.0
    assert r.zrange("z", 0, -1) == ["b", "c", "a"]
    assert r.zrevrange("z", 0, 0) == ["a"]
    assert r.zrangebyscore("z", "(2", "+inf") == ["c", "a"]
    assert r.zrank("z", "c") == 1 and r.zcard("z") == 3 and r.zrem("z", "b") == 1
    assert r.zscore("z", "c") == 3.0


def test_expiry_lazy_and_active(servers):
    node = servers("py")
    with node.client() as r:
        r.set("a", 1, px=100)
        r.set("b", 1, ex=100)
        assert 99 <= r.ttl("b") <= 100 and r.pttl("a") <= 100
        assert r.persist("b") and r.ttl("b") == -1 and r.ttl("zz") == -2
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        time.sleep(0.2)
        assert r.dbsize() == 2  # not yet deleted: lazily expired on access
        assert r.get("a") is None and r.dbsize() == 1
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        r.set("c", 1, px=50)
        wait_until(lambda: r.dbsize() == 1, 5, "active expiry of c")
        r.expire("b", -1)
        assert r.exists("b") == 0


def test_transactions(r, py):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", 1).incr("a").get("a")
    assert pipe.execute() == [True, 2, "2"]
    with py.client() as other:
        with r.pipeline() as p:
            p.watch("a")
            other.set("a", 5)
            p.multi()
            p.set("a", 7)
            with pytest.raises(redis.WatchError):
                p.execute()
    assert r.get("a") == "5"
    with pytest.raises(redis.ResponseError, match="EXEC without MULTI"):
        r.execute_command("EXEC")


def test_execabort_on_queue_error(py):
    import socket

    s = socket.create_connection(("127.0.0.1", py.port), timeout=5)
    s.sendall(b"MULTI\r\nSET a 1\r\nGET\r\nEXEC\r\n")
    data = b""
    while data.count(b"\r\n") < 4:
        data += s.recv(4096)
    s.close()
    assert data.endswith(b"-EXECABORT Transaction discarded because of previous errors.\r\n")


def test_dump_restore_roundtrip(r):
    r.rpush("l", "a", "b")
    payload = r.dump("l")
    r.restore("l2", 0, payload)
    assert r.lrange("l2", 0, -1) == ["a", "b"]
    with pytest.raises(redis.ResponseError, match="BUSYKEY"):
        r.restore("l2", 0, payload)
    with pytest.raises(redis.ResponseError, match="checksum"):
        r.restore("l3", 0, b"garbage-payload")


def test_auth_and_acl(servers):
    node = servers("py", requirepass="s3cret")
    with node.client() as r:
        assert r.ping()
        r.execute_command("ACL", "SETUSER", "repl", "on", ">pw", "+@all", "-flushall")
        assert r.execute_command("ACL", "WHOAMI") == "default"
    bad = redis.Redis(port=node.port, password="wrong", decode_responses=True)
    with pytest.raises(redis.AuthenticationError):
        bad.ping()
    user = redis.Redis(port=node.port, username="repl", password="pw", decode_responses=True)
    assert user.ping()
    with pytest.raises(redis.exceptions.NoPermissionError):
        user.flushall()
    user.close()
    bad.close()
    anon = redis.Redis(port=node.port, decode_responses=True)
    with pytest.raises(redis.AuthenticationError):
        anon.get("x")
    anon.close()


def test_info_and_config(r):
    info = r.info("server")
    assert info["redis_version"] == "7.0.0" and "pyredis_version" in info
    assert r.config_set("repl-backlog-size", "2mb")
    assert r.config_get("repl-backlog-size") == {"repl-backlog-size": "2mb"}
    with pytest.raises(redis.ResponseError):
        r.config_set("repl-timeout", "abc")
    assert r.execute_command("ROLE")[0] == "master"
    clients = r.client_list()
    assert any(c["id"] == str(r.client_id()) for c in clients)
    digest_empty = r.execute_command("DEBUG", "DIGEST")
    assert digest_empty == "0" * 40
    r.set("k", "v")
    assert r.execute_command("DEBUG", "DIGEST") != "0" * 40


def test_bits_publish_hsetex(r):
    assert r.setbit("b", 7, 1) == 0 and r.getbit("b", 7) == 1 and r.get("b") == "\x01"
    assert r.bitcount("b") == 1
    assert r.publish("chan", "msg") == 0
    assert r.execute_command("HSETEX", "h", "KEEPTTL", "FIELDS", 1, "x", "2.5") == 1
    assert r.hget("h", "x") == "2.5"
