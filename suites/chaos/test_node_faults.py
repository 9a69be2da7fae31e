"""Chaos: faults on nodes — kill -9, SIGSTOP longer than repl-timeout, a restart that loses the data.

Every test names the exact outcome: how many full syncs the master serves, whether the
replica's resync is partial, and — for the master restarted without persistence — the
documented wipe of its replicas.
"""

from __future__ import annotations

import pytest
from chaos_support import (
    FAST_TIMEOUTS,
    Prediction,
    assert_resync,
    bulk_load,
    dbsize,
    log_matches,
    psync_request,
    wait_log,
    wait_ops,
    workload,
)

from harness import faults
from harness.capture import assert_same_data
from harness.checks import check_acknowledged, expected_resync, require
from harness.ledger import SyncCounters, SyncWatch
from harness.waits import wait_until
from harness.workload import read_state

pytestmark = pytest.mark.family("chaos: node faults")


def test_replica_killed_during_full_sync_full_syncs_again(topology_factory):
    """kill -9 of a replica mid-transfer: the master drops it; restarted, it needs a second full sync."""
    topo = topology_factory("m <- r1", link=False)
    m, r1 = topo.node("m"), topo.node("r1")
    bulk_load(m, 1000, 1000)  # ~1 MB snapshot
    edge = topo.ensure_edge("r1", "m")
    before = SyncCounters.read(m)
    with edge.bandwidth(100, stream="downstream"):  # ~10 s transfer: time to kill it in the middle
        topo.replicaof("r1", "m")
        wait_until(lambda: r1.info("replication").get("master_sync_in_progress"), lambda v: v == 1,
                   timeout=10, what="r1 receiving the snapshot (master_sync_in_progress:1)")
        with faults.apply(topo, "kill", "r1"):
            wait_until(lambda: m.info("replication").get("connected_slaves"), lambda n: n == 0,
                       timeout=10, what="the master to notice the killed replica")
            assert SyncCounters.read(m) - before == SyncCounters(1, 0, 1)
    topo.wait_in_sync(["r1"], timeout=30)
    delta = SyncCounters.read(m) - before
    # Restarted without an RDB, r1 has no cached master: PSYNC ? -1, a second full sync.
    assert (delta.full, delta.partial_ok) == (2, 0), delta
    assert_same_data(m, r1)


def test_master_paused_longer_than_repl_timeout(topology_factory, chaos_seed, chaos_verify):
    """SIGSTOP on the master past repl-timeout: the replica times out, then resumes by partial resync."""
    topo = topology_factory("m <- r1", directives={"*": FAST_TIMEOUTS})
    m, r1 = topo.node("m"), topo.node("r1")
    watch = SyncWatch(m, "master paused")
    with workload(topo, chaos_seed, ops=100, pace=0.01, sample=("r1",)) as run:
        wait_ops(run, 40)
        before = m.info("replication")
        with faults.apply(topo, "pause", "m"):
            topo.wait_link_down("r1", timeout=8)
            wait_log(r1, r"MASTER timeout: no data nor PING received", timeout=5)
            request = psync_request(r1)
    # The master cannot be read while stopped, and after SIGCONT the replica PSYNCs at once.
    # Its backlog only grew meanwhile (same replid, same first byte), so judging the request
    # against the state read after the heal is judging it against the state PSYNC met.
    topo.wait_in_sync(timeout=20)
    after = m.info("replication")
    assert (after["master_replid"], after["repl_backlog_first_byte_offset"]) == \
        (before["master_replid"], before["repl_backlog_first_byte_offset"])
    expected, reason = expected_resync(request, after)
    assert_resync(watch, Prediction("r1", "m", expected, reason), "partial")
    chaos_verify(topo, run)


def test_replica_restarted_keeping_data_resumes_by_partial_resync(topology_factory, chaos_seed, chaos_verify):
    """A replica restarted with SHUTDOWN SAVE and `replicaof` in its conf PSYNCs from its RDB: no full sync."""
    topo = topology_factory("m <- r1")
    m = topo.node("m")
    watch = SyncWatch(m, "replica restart keeping data")
    with workload(topo, chaos_seed, ops=100, pace=0.01, sample=("r1",)) as run:
        wait_ops(run, 60)
        with faults.apply(topo, "restart", "r1"):
            pass
    topo.wait_in_sync(timeout=20)
    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), delta
    chaos_verify(topo, run)


@pytest.mark.parametrize("signal", ["kill", "terminate"])
def test_replica_down_without_saving_resumes_from_its_sync_snapshot(topology_factory, chaos_seed, chaos_verify,
                                                                   signal):
    """SIGKILL / SIGTERM of a replica with no save points: it restarts from the RDB of its first full
    sync (repl-id and offset inside) and PSYNCs from there — partial, because the backlog still holds it."""
    topo = topology_factory("m <- r1")
    m, r1 = topo.node("m"), topo.node("r1")
    watch = SyncWatch(m, f"replica {signal}")
    with workload(topo, chaos_seed, ops=100, pace=0.01, sample=("r1",)) as run:
        wait_ops(run, 40)
        with faults.apply(topo, signal, "r1"):
            wait_ops(run, 120)  # the master moves on while r1 is down
    topo.wait_in_sync(timeout=20)
    delta = watch.delta()
    assert (delta.full, delta.partial_ok) == (0, 1), delta
    assert log_matches(r1, r"Partial resynchronization|Successful partial resynchronization")
    chaos_verify(topo, run)


def test_master_restarted_keeping_data(topology_factory, server, recorder, chaos_seed):
    """A master restarted from its RDB: 7.0+ serves its old replicas by PSYNC (replid2); 6.2 full-syncs them."""
    topo = topology_factory("m <- r1")
    m, r1 = topo.node("m"), topo.node("r1")
    with workload(topo, chaos_seed, ops=60, pace=0.0) as run:
        pass
    topo.wait_in_sync(timeout=20)
    old = m.info("replication")["master_replid"]
    with faults.apply(topo, "restart", "m"):
        pass
    topo.wait_in_sync(timeout=20)
    info = m.info("replication")
    stats = m.info("stats")  # counters start from zero with the new process
    assert info["master_replid"] != old
    if server.master.at_least(7):
        assert info["master_replid2"] == old
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (0, 1)
    else:
        assert (stats["sync_full"], stats["sync_partial_ok"]) == (1, 0)
    with m.client() as conn:
        state = read_state(conn, run.history.keys())
    result = check_acknowledged(state, run.history, "m",
                                faults=[ev for ev in recorder.events if ev.kind == "fault"])
    require([result])
    assert result.data["lost_explained"] == 0, "the restart kept its data: nothing may be lost"
    assert_same_data(m, r1)


def test_master_restarted_without_persistence_wipes_its_replicas(topology_factory, recorder, chaos_seed):
    """A master without persistence restarted while replicas are connected comes back empty and wipes them."""
    topo = topology_factory("m <- r1, r2")
    m, r1, r2 = (topo.node(n) for n in ("m", "r1", "r2"))
    with workload(topo, chaos_seed, ops=60, pace=0.0) as run:
        pass
    topo.wait_in_sync(timeout=20)
    assert dbsize(r1) == dbsize(r2) == dbsize(m) > 0
    old_replid = m.info("replication")["master_replid"]
    with faults.apply(topo, "restart_wipe", "m"):
        pass
    recorder.hazard("master without persistence restarted: its replicas full-synced an empty "
                    "dataset and lost every key (redis-doc 'Safety of replication when master has "
                    "persistence turned off')")
    topo.wait_in_sync(timeout=30)
    assert m.info("replication")["master_replid"] != old_replid
    assert dbsize(m) == dbsize(r1) == dbsize(r2) == 0
    stats = m.info("stats")  # counters start from zero with the new process
    assert (stats["sync_full"], stats["sync_partial_ok"]) == (2, 0)  # both replicas, both full
    # Every acknowledged write is gone, and the checker attributes the loss to the restart.
    with m.client() as conn:
        state = read_state(conn, run.history.keys())
    faults_seen = [ev for ev in recorder.events if ev.kind == "fault"]
    result = check_acknowledged(state, run.history, "m", faults=faults_seen)
    require([result])
    assert result.data["lost_explained"] > 0
    assert_same_data(m, r1, r2)
