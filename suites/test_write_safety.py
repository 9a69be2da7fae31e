"""Write safety: min-replicas-to-write refuses writes a master cannot get acknowledged; WAIT counts acks.

Replication is asynchronous, so the only brakes a master has are `min-replicas-to-write N` with
`min-replicas-max-lag S` (writes get `-NOREPLICAS` unless N replicas are online and have ACKed
within S seconds; active only when both are non-zero) and `WAIT numreplicas timeout` (how many
replicas have ACKed the client's last write). Both are settings of the master: on a replica
they are ignored or refused.
"""

from __future__ import annotations

import time

import pytest
import redis

from harness.expectations import NOREPLICAS_ERROR, WAIT_ON_REPLICA_ERROR
from harness.waits import wait_until


def _write_outcome(node, key: str) -> str:
    """'ok' or the error text of one SET, so a wait can watch the master change its mind."""
    try:
        node.client().set(key, "v")
        return "ok"
    except redis.ResponseError as exc:
        return str(exc)


def _min_replicas(node, count: int, max_lag: int) -> None:
    node.client().config_set("min-replicas-to-write", count)
    node.client().config_set("min-replicas-max-lag", max_lag)


def test_enough_good_replicas_let_writes_through(server, topology_factory) -> None:
    """With one good replica and min-replicas-to-write 1 a write is accepted and replicated"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    assert "min_slaves_good_slaves" not in m.info("replication")  # only while the brake is on
    _min_replicas(m, 1, 10)

    wait_until(lambda: m.info("replication").get("min_slaves_good_slaves"), lambda n: n == 1,
               timeout=topo.wait_timeout, what="the master to count r1 as a good replica")
    assert m.client().set("guarded", "accepted") is True
    topo.wait_in_sync()
    assert r1.client().get("guarded") == "accepted"


def test_too_few_replicas_get_noreplicas_and_reads_still_work(server, topology_factory) -> None:
    """Asking for two good replicas with one: writes get the exact NOREPLICAS error, reads work"""
    topo = topology_factory("m <- r1")
    m = topo["m"]
    m.client().set("before", "brake")
    topo.wait_in_sync()
    _min_replicas(m, 2, 10)

    outcome = wait_until(lambda: _write_outcome(m, "refused"), lambda o: o != "ok",
                         timeout=topo.wait_timeout, what="the master to refuse writes with one of two replicas")
    assert outcome == NOREPLICAS_ERROR
    assert m.client().exists("refused") == 0
    assert m.client().get("before") == "brake"
    assert m.info("replication")["min_slaves_good_slaves"] == 1

    _min_replicas(m, 1, 10)
    assert _write_outcome(m, "accepted-again") == "ok"


def test_silent_replica_stops_counting_after_max_lag_and_counts_again_after_healing(
    server, topology_factory
) -> None:
    """A replica whose ACKs are black-holed stays connected but stops counting after max-lag; healed, it counts again"""
    max_lag = 2
    topo = topology_factory("m <- r1")
    m = topo["m"]
    _min_replicas(m, 1, max_lag)
    assert _write_outcome(m, "while-acked") == "ok"

    with topo.edge("r1").blackhole(stream="upstream"):  # the master's stream flows, ACKs do not
        silenced = time.monotonic()
        outcome = wait_until(lambda: _write_outcome(m, "while-silent"), lambda o: o != "ok",
                             timeout=max_lag + 8, what=f"NOREPLICAS once r1's ACKs are older than {max_lag} s")
        refused_after = time.monotonic() - silenced
        info = m.info("replication")
    assert outcome == NOREPLICAS_ERROR
    # Not dropped (repl-timeout is 10 s): still listed online, but its last ACK is too old.
    assert info["connected_slaves"] == 1 and info["slave0"]["state"] == "online", info
    assert info["slave0"]["lag"] >= max_lag, info
    assert info["min_slaves_good_slaves"] == 0
    assert refused_after >= max_lag - 1, f"writes refused after {refused_after:.1f} s, before max-lag {max_lag} s"

    # Removing the black hole closes the connection; the replica comes back and counts again.
    topo.wait_links_up()
    outcome = wait_until(lambda: _write_outcome(m, "after-healing"), lambda o: o == "ok",
                         timeout=topo.wait_timeout, what="writes accepted again once r1 ACKs")
    topo.wait_in_sync()
    assert topo["r1"].client().get("after-healing") == "v"


def test_min_replicas_on_a_replica_is_ignored(server, topology_factory) -> None:
    """min-replicas-to-write set on a replica (which has no replicas) does not stop replication"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    _min_replicas(r1, 1, 10)

    m.client().set("through", "the-replica")
    topo.wait_in_sync()
    assert r1.client().get("through") == "the-replica"
    assert r1.info("replication")["master_link_status"] == "up"


def test_wait_counts_replicas_that_acknowledged(server, topology_factory) -> None:
    """WAIT returns how many replicas ACKed the last write; one black-holed replica is not counted"""
    topo = topology_factory("m <- r1, r2")
    m = topo["m"]
    conn = m.client()
    conn.set("acked", "by-both")
    assert conn.execute_command("WAIT", 2, 5000) == 2

    with topo.edge("r2").blackhole(stream="upstream"):
        conn.set("acked", "by-one")
        started = time.monotonic()
        assert conn.execute_command("WAIT", 2, 500) == 1  # times out with r1's ack only
        assert time.monotonic() - started >= 0.4
    topo.wait_in_sync()


def test_wait_on_a_replica_is_refused(server, topology_factory) -> None:
    """WAIT sent to a replica gets the exact error: a replica's own writes are never propagated"""
    topo = topology_factory("m <- r1")
    with pytest.raises(redis.ResponseError) as caught:
        topo["r1"].client().execute_command("WAIT", 1, 100)
    assert f"ERR {caught.value}" == WAIT_ON_REPLICA_ERROR  # redis-py strips the ERR prefix
