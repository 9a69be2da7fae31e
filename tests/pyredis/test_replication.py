"""Replication between Python nodes: sync, PSYNC, ids, WAIT, min-replicas, auth, timeouts."""

from __future__ import annotations

import signal

import pytest
import redis

from tests.pyredis.conftest import wait_offsets_equal, wait_until


def _pair(servers, **replica_directives):
    master = servers("py")
    replica = servers("py", **replica_directives)
    replica.replicaof(master)
    replica.wait_link_up()
    return master, replica


def test_full_sync_state_and_stream(servers):
    master = servers("py")
    with master.client() as m:
        for i in range(200):
            m.set(f"k{i}", i)
        m.zadd("z", {"a": 0.1})
    replica = servers("py")
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("after", "1", ex=100)
        m.execute_command("SELECT", 0)
    wait_offsets_equal(master, replica)
    assert replica.digest() == master.digest()
    mi, ri = master.info(), replica.info()
    assert ri["role"] == "slave" and ri["master_sync_in_progress"] == 0
    assert ri["master_replid"] == mi["master_replid"]
    assert ri["slave_repl_offset"] == mi["master_repl_offset"]
    assert str(ri["master_replid2"]).strip("0") == "" and ri["second_repl_offset"] == -1
    assert mi["slave0"]["state"] == "online" and mi["slave0"]["port"] == replica.port
    stats = master.info("stats")
    assert (stats["sync_full"], stats["sync_partial_err"], stats["sync_partial_ok"]) == (1, 1, 0)
    with replica.client() as r:
        role = r.execute_command("ROLE")
        assert role[0] == "slave" and role[2] == master.port and role[3] == "connected"
        assert 0 < r.ttl("after") <= 100
    with master.client() as m:
        role = m.execute_command("ROLE")
        assert role[0] == "master" and role[2][0][1] == str(replica.port)


def test_psync_after_link_kill_and_offsets(servers):
    master, replica = _pair(servers)
    with master.client() as m:
        m.set("a", 1)
    wait_offsets_equal(master, replica)
    with replica.client() as r:
        r.client_kill_filter(_type="master")
    with master.client() as m:
        m.set("b", 2)
    replica.wait_link_up()
    wait_offsets_equal(master, replica)
    stats = master.info("stats")
    assert stats["sync_partial_ok"] == 1 and stats["sync_full"] == 1
    assert replica.digest() == master.digest()
    replica.wait_log("Successful partial resynchronization with master.")
    master.wait_log("Partial resynchronization request from")


def test_promotion_keeps_history_for_psync(servers):
    master, replica = _pair(servers)
    with master.client() as m:
        m.set("a", 1)
    wait_offsets_equal(master, replica)
    offset = replica.info()["master_repl_offset"]
    old_id = master.info()["master_replid"]
    with replica.client() as r:
        r.execute_command("REPLICAOF", "NO", "ONE")
    info = replica.info()
    assert info["role"] == "master"
    assert info["master_replid2"] == old_id and info["second_repl_offset"] == offset + 1
    # The old master becomes a replica of the promoted node: a partial resync via replid2
    # is possible only if the old master did not move past the promotion point.
    with master.client() as m:
        m.config_set("repl-ping-replica-period", "3600")
    master.replicaof(replica)
    master.wait_link_up()
    assert replica.info("stats")["sync_partial_ok"] + replica.info("stats")["sync_full"] >= 1


def test_wait_and_min_replicas(servers):
    master, replica = _pair(servers)
    with master.client() as m:
        m.set("a", 1)
        assert m.wait(1, 2000) == 1
        m.config_set("min-replicas-to-write", "2")
        m.config_set("min-replicas-max-lag", "10")
        with pytest.raises(redis.ResponseError, match="Not enough good replicas"):
            m.set("b", 1)
        assert m.get("a") == "1"
        m.config_set("min-replicas-to-write", "0")
    with replica.client() as r:
        with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica"):
            r.wait(1, 10)


def test_wrong_masterauth_then_fixed(servers):
    master = servers("py", requirepass="pw")
    replica = servers("py", masterauth="bad")
    replica.replicaof(master)
    replica.wait_log("Unable to AUTH to MASTER")
    assert replica.info()["master_link_status"] == "down"
    with replica.client() as r:
        r.config_set("masterauth", "pw")
    replica.wait_link_up()


def test_masteruser_acl(servers):
    master = servers("py", requirepass="pw")
    with master.client() as m:
        m.execute_command("ACL", "SETUSER", "replicator", "on", ">rpw", "+@all")
    replica = servers("py", masteruser="replicator", masterauth="rpw")
    replica.replicaof(master)
    replica.wait_link_up()


def test_replica_timeout_when_master_paused(servers):
    master, replica = _pair(servers)
    with replica.client() as r:
        r.config_set("repl-timeout", "2")
    assert master.proc is not None
    master.proc.send_signal(signal.SIGSTOP)
    try:
        replica.wait_log("MASTER timeout: no data nor PING received...", timeout=10)
        assert replica.info()["master_link_status"] == "down"
    finally:
        master.proc.send_signal(signal.SIGCONT)
    replica.wait_link_up()
    assert master.info("stats")["sync_partial_ok"] >= 1


def test_cascade_nomasterlink_and_same_stream(servers):
    top = servers("py")
    middle = servers("py")
    leaf = servers("py")
    middle.replicaof(top)
    middle.wait_link_up()
    leaf.replicaof(middle)
    leaf.wait_link_up()
    with top.client() as t:
        t.set("x", 1)
    wait_offsets_equal(top, leaf)
    assert leaf.info()["master_replid"] == top.info()["master_replid"]
    top.kill()
    late = servers("py")
    late.replicaof(middle)
    late.wait_log("NOMASTERLINK", timeout=10)


def test_replica_restart_with_rdb_psyncs(servers):
    master = servers("py")
    replica = servers("py", save="3600 1")
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        m.set("a", 1)
    wait_offsets_equal(master, replica)
    replica.directives["replicaof"] = f"127.0.0.1 {master.port}"
    replica.write_conf()
    assert replica.stop() == 0  # SIGTERM saves (save rules are set)
    with master.client() as m:
        m.set("while-down", 1)
    replica.start()
    replica.wait_link_up()
    wait_offsets_equal(master, replica)
    stats = master.info("stats")
    assert stats["sync_full"] == 1 and stats["sync_partial_ok"] == 1
    with replica.client() as r:
        assert r.get("while-down") == "1"


def test_sigterm_waits_for_lagging_replica(servers):
    master = servers("py", shutdown_timeout="1")
    replica = servers("py")
    replica.replicaof(master)
    replica.wait_link_up()
    assert replica.proc is not None
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        with master.client() as m:
            m.incr("x")
        assert master.stop() == 0
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    log = master.log_text()
    assert "Waiting for replicas before shutting down." in log
    assert "0 of 1 replicas are in sync when shutting down." in log


def test_writable_replica_expires_its_own_keys_only(servers):
    master, replica = _pair(servers, replica_read_only="no")
    with master.client() as m:
        m.set("from-master", "1", px=300)
        m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # the master will not send the DEL
    wait_offsets_equal(master, replica)
    with replica.client() as r:
        r.set("local", "1", px=100)
        wait_until(lambda: r.dbsize() == 1, 5, "the replica to expire its own key")
        # The master's key stays (read as absent) until the master's DEL arrives.
        wait_until(lambda: r.get("from-master") is None, 5, "the master's key to read as expired")
        assert r.dbsize() == 1
