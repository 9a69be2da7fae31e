"""Replica restart: a role set at runtime is forgotten; a role in the conf file is not.

Seed fact 2: "if a replica restarts, it must be told `slaveof <ip> <port>` again" - true when
the role was set with a command. With `replicaof` in its conf file the replica reconnects by
itself, and with an RDB holding its replication id and offset it even resumes with a partial
resync.
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.ledger import SyncWatch
from harness.waits import wait_until


def test_runtime_replica_comes_back_as_master(server, topology_factory) -> None:
    """A replica set with REPLICAOF restarts as a master with its old data and must be told again"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    m.client().set("before-restart", "kept")
    topo.wait_in_sync()

    r1.restart(save=True)  # SHUTDOWN SAVE, then start with the same conf file

    info = r1.info("replication")
    assert info["role"] == "master", "the runtime REPLICAOF must not survive a restart"
    assert r1.client().get("before-restart") == "kept"
    wait_until(lambda: m.info("replication")["connected_slaves"], lambda n: n == 0,
               timeout=10, what="the master to notice the replica left")
    m.client().set("while-forgotten", "x")
    assert r1.client().exists("while-forgotten") == 0

    assert topo.replicaof("r1", "m") == "OK"  # the seed's remedy
    topo.wait_in_sync()
    assert r1.client().get("while-forgotten") == "x"
    assert_same_data(m, r1)


def test_replicaof_in_conf_reconnects_alone(server, topology_factory) -> None:
    """A replica with replicaof in its conf file reconnects by itself after a restart"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    edge = topo.edge("r1")
    r1.set_directive("replicaof", f"{edge.listen_host} {edge.listen_port}")
    r1.stop(save=False)
    m.client().set("while-down", "arrives")

    r1.start()
    assert r1.info("replication")["role"] == "slave"
    topo.wait_in_sync()
    assert r1.client().get("while-down") == "arrives"


def test_restart_with_rdb_resumes_with_partial_resync(server, topology_factory) -> None:
    """With its RDB (replid + offset) and replicaof in the conf, a restarted replica gets +CONTINUE"""
    topo = topology_factory("m <- r1", directives={"m": [("repl-backlog-size", "1mb")]})
    m, r1 = topo["m"], topo["r1"]
    m.client().set("before", "1")
    topo.wait_in_sync()
    edge = topo.edge("r1")
    r1.set_directive("replicaof", f"{edge.listen_host} {edge.listen_port}")
    watch = SyncWatch(m, "replica restart from its RDB")

    r1.stop(save=True)  # the RDB now carries repl-id and repl-offset
    for i in range(50):
        m.client().set(f"while-down:{i}", i)
    r1.start()
    topo.wait_in_sync()

    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), f"expected +CONTINUE after restart, got {delta}"
    assert r1.client().get("while-down:49") == "49"
    assert_same_data(m, r1)
