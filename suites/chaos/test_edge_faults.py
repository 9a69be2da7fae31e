"""Chaos: faults on a replication link (Toxiproxy toxics on the edge replica -> master).

Each test states the exact outcome Redis's rules give for its fault — which kind of resync,
whether the link drops, what the replica holds meanwhile — and then checks convergence,
acknowledged writes and prefix consistency of a seeded workload where one runs.
"""

from __future__ import annotations

import pytest
from chaos_support import (
    assert_resync,
    bulk_load,
    dbsize,
    link,
    log_matches,
    observe,
    predict,
    wait_log,
    wait_ops,
    workload,
)

from harness.capture import assert_same_data
from harness.ledger import SyncCounters, SyncWatch
from harness.waits import wait_until

pytestmark = pytest.mark.family("chaos: link faults")


def _rdb_size(node) -> int:
    """Bytes of the snapshot a full sync will send (SAVE, then the file's size)."""
    with node.client() as conn:
        conn.execute_command("SAVE")
        directory = conn.config_get("dir")["dir"]
        name = conn.config_get("dbfilename")["dbfilename"]
    from pathlib import Path

    return (Path(directory) / name).stat().st_size


# Where the downstream byte budget runs out: inside the handshake replies, in the middle of
# the RDB payload, and in its last bytes (the checksum).
CUTS = ["handshake", "rdb-middle", "rdb-end"]


@pytest.mark.parametrize("where", CUTS)
def test_snapshot_cut_mid_transfer_never_loads_and_recovers_with_a_full_sync(topology_factory, where):
    """A full sync cut at a byte offset never loads a partial snapshot; healed, a full sync completes."""
    topo = topology_factory("m <- r1", link=False)
    m, r1 = topo.node("m"), topo.node("r1")
    bulk_load(m, 1500, 100)
    rdb = _rdb_size(m)
    header = 120  # +PONG, +OK x2, +FULLRESYNC <40 hex> <offset>, $<len>: a little over 100 bytes
    nbytes = {"handshake": 30, "rdb-middle": header + rdb // 2, "rdb-end": header + rdb - 4}[where]
    edge = topo.ensure_edge("r1", "m")
    before = SyncCounters.read(m)
    with edge.cut_after(nbytes):
        topo.replicaof("r1", "m")
        # Every attempt is cut: the master keeps starting full syncs, the link never comes up.
        wait_until(lambda: (SyncCounters.read(m) - before).full, lambda n: n >= 2, timeout=15,
                   what=f"two full-sync attempts cut after {nbytes} bytes")
        assert link(r1) == "down"
        assert dbsize(r1) == 0, "a cut snapshot must never be loaded"
    topo.wait_in_sync(["r1"], timeout=30)
    delta = SyncCounters.read(m) - before
    # At least the two cut attempts were full syncs, and so was the one that completed (which
    # may be the second, if the toxic went away while it was in flight).
    assert delta.full >= 2 and delta.partial_ok == 0, delta
    assert dbsize(r1) == 1500
    assert_same_data(m, r1)


def test_reset_mid_command_stream_resumes_by_partial_resync(topology_factory, chaos_seed, chaos_verify):
    """reset_peer in the middle of the command stream: the replica PSYNCs from its offset, nothing lost."""
    topo = topology_factory("m <- r1")
    m, r1 = topo.node("m"), topo.node("r1")
    edge = topo.edge("r1")
    watch = SyncWatch(m, "reset mid-stream")
    with workload(topo, chaos_seed, sample=("r1",)) as run:
        wait_ops(run, 60)
        with edge.reset(timeout_ms=0, stream="downstream"):
            topo.wait_link_down("r1", timeout=10)
            prediction = predict(r1, m)
    topo.wait_in_sync(timeout=20)
    assert_resync(watch, prediction, "partial")
    chaos_verify(topo, run)


def test_latency_with_jitter_during_a_full_sync(topology_factory):
    """100 ms ± 50 ms both ways during the initial sync: one full sync, no retry, same data."""
    topo = topology_factory("m <- r1", link=False)
    m, r1 = topo.node("m"), topo.node("r1")
    bulk_load(m, 2000, 200)
    edge = topo.ensure_edge("r1", "m")
    before = SyncCounters.read(m)
    with edge.latency(100, jitter=50, stream="both"):
        topo.replicaof("r1", "m")
        topo.wait_in_sync(["r1"], timeout=30)
    delta = SyncCounters.read(m) - before
    assert (delta.full, delta.partial_ok) == (1, 0), delta
    assert_same_data(m, r1)


def test_latency_with_jitter_while_streaming_keeps_the_link(topology_factory, chaos_seed, chaos_verify):
    """Latency and jitter on the command stream delay it but never drop or reorder it."""
    topo = topology_factory("m <- r1")
    m = topo.node("m")
    edge = topo.edge("r1")
    watch = SyncWatch(m, "latency while streaming")
    with edge.latency(150, jitter=100, stream="downstream"):
        with workload(topo, chaos_seed, sample=("r1",)) as run:
            pass
    topo.wait_in_sync(timeout=20)
    assert watch.delta().kind == "none", "latency below repl-timeout must not break the link"
    chaos_verify(topo, run)
    assert run.samples, "no sample was taken while the stream was delayed"


def test_bandwidth_below_the_write_rate_overflows_the_replica_buffer(topology_factory):
    """A link slower than the writes fills the replica output buffer: the master drops it, then a full resync."""
    topo = topology_factory("m <- r1", directives={
        "m": [("client-output-buffer-limit", "replica 256kb 128kb 1"), ("repl-backlog-size", "16kb")]})
    m, r1 = topo.node("m"), topo.node("r1")
    edge = topo.edge("r1")
    watch = SyncWatch(m, "output buffer overflow")
    with edge.bandwidth(8, stream="downstream"):
        # 30 MB against an 8 KB/s link: more than the loopback socket buffers can absorb (several MB)
        bulk_load(m, 3000, 10_000, prefix="burst")
        wait_log(m, r"overcoming of output buffer limits", timeout=15)
        with edge.cut():  # end the stalled connection so the replica's offset is final
            topo.wait_link_down("r1", timeout=10)
            prediction = predict(r1, m)
    topo.wait_in_sync(timeout=30)
    assert_resync(watch, prediction, "full")
    assert_same_data(m, r1)


BLACKHOLES = {
    # name: (timeout_ms of the toxic, whether the fault outlasts repl-timeout, stream)
    "shorter-than-repl-timeout": (0, False, "both"),
    "longer-than-repl-timeout": (0, True, "both"),
    "closing-after-500ms": (500, False, "both"),
    "acks-only-longer-than-repl-timeout": (0, True, "upstream"),
}


@pytest.mark.parametrize("case", list(BLACKHOLES))
def test_black_hole(topology_factory, chaos_seed, case, chaos_verify):
    """A black hole (timeout toxic): short keeps the link up; long times it out; closing drops it; all PSYNC.

    With only the upstream (REPLCONF ACK) direction swallowed, the master is the side that times out.
    """
    timeout_ms, long_, stream = BLACKHOLES[case]
    topo = topology_factory("m <- r1", directives={"*": [("repl-timeout", "3"), ("repl-ping-replica-period", "1")]})
    m, r1 = topo.node("m"), topo.node("r1")
    edge = topo.edge("r1")
    watch = SyncWatch(m, f"black hole {case}")
    with workload(topo, chaos_seed, ops=80, pace=0.02, sample=("r1",)) as run:
        wait_ops(run, 30)
        with edge.blackhole(timeout_ms=timeout_ms, stream=stream):
            if stream == "upstream":
                # Only the replica's ACKs vanish: the master times the replica out, while the
                # replica, still hearing PINGs and data, never times out the master.
                topo.wait_link_down("r1", timeout=8)
                wait_log(m, r"Disconnecting timedout replica", timeout=5)
                assert "MASTER timeout" not in r1.log_text()
            elif timeout_ms:
                # The toxic closes the connection itself, well before repl-timeout (3 s).
                topo.wait_link_down("r1", timeout=2.5)
                assert "MASTER timeout" not in r1.log_text()
            elif long_:
                topo.wait_link_down("r1", timeout=8)
                # repl-timeout fires on both sides in the same cron tick; either may log first.
                wait_until(lambda: log_matches(r1, r"MASTER timeout: no data nor PING received")
                           or log_matches(m, r"Disconnecting timedout replica"), timeout=5,
                           what="a repl-timeout disconnect logged by r1 or m")
            else:
                seen = observe(lambda: link(r1), seconds=1.0)
                assert set(seen) == {"up"}, f"link dropped during a 1 s black hole: {seen}"
            prediction = predict(r1, m) if (timeout_ms or long_) else None
    topo.wait_in_sync(timeout=20)
    if prediction is not None:
        assert_resync(watch, prediction, "partial")
    else:
        # Removing the timeout toxic closes the connection (data was dropped mid-stream), so
        # even the short black hole ends in a reconnect — a partial one.
        assert watch.delta().kind == "partial"
    chaos_verify(topo, run)


def test_wait_counts_only_the_replicas_on_the_healthy_side_of_a_partition(topology_factory, chaos_seed, chaos_verify):
    """WAIT after each write with r1 partitioned returns exactly 1 (only r2 acknowledges); nothing is lost."""
    topo = topology_factory("m <- r1, r2")
    with topo.edge("r1").cut():
        topo.wait_link_down("r1", timeout=10)
        # WAIT 1 returns as soon as one replica acknowledged, with how many had: never r1 here.
        with workload(topo, chaos_seed, clients=2, ops=25, pace=0.0, wait_replicas=1,
                      sample=("r2",)) as run:
            pass
    acks = {op.wait_acks for op in run.history.ops if op.type == "ok"}
    assert acks == {1}, f"WAIT returned {acks}; with one of two replicas cut off it must say 1"
    assert all(op.wait_n == 1 for op in run.history.ops)
    topo.wait_in_sync(timeout=20)
    chaos_verify(topo, run)


@pytest.mark.parametrize("outage", ["within-backlog", "beyond-backlog"])
def test_partition_resync_kind_depends_on_the_backlog(topology_factory, outage):
    """A partition shorter than the backlog heals by partial resync; one that overflows it, by full sync."""
    backlog = "1mb" if outage == "within-backlog" else "16kb"
    topo = topology_factory("m <- r1", directives={"m": [("repl-backlog-size", backlog)]})
    m, r1 = topo.node("m"), topo.node("r1")
    edge = topo.edge("r1")
    watch = SyncWatch(m, f"partition {outage}")
    with edge.cut():
        topo.wait_link_down("r1", timeout=10)
        if outage == "within-backlog":
            bulk_load(m, 100, 100, prefix="during")  # ~15 KB of stream
        else:
            bulk_load(m, 100, 10_000, prefix="during")  # ~1 MB, 64 times the backlog
        prediction = predict(r1, m)
        assert dbsize(r1) == 0, "the partitioned replica must not see writes made during the cut"
    topo.wait_in_sync(timeout=30)
    assert_resync(watch, prediction, "partial" if outage == "within-backlog" else "full")
    assert_same_data(m, r1)


def test_slicer_on_the_command_stream_changes_nothing(topology_factory, chaos_seed, chaos_verify):
    """The command stream cut into 1-12 byte pieces: the replica reassembles it, no reconnect."""
    topo = topology_factory("m <- r1")
    m = topo.node("m")
    edge = topo.edge("r1")
    watch = SyncWatch(m, "slicer")
    with edge.slicer(8, size_variation=4, delay_us=20, stream="downstream"):
        with workload(topo, chaos_seed, ops=100, sample=("r1",)) as run:
            pass
        topo.wait_in_sync(timeout=20)
    assert watch.delta().kind == "none"
    chaos_verify(topo, run)
