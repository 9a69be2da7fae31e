"""The reaper removes what a killed session left, and never touches a live session's nodes."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.nodes.base import NodeConfig
from harness.nodes.process import ProcessNode
from harness.rundir import OWNER_FILE, PortAllocator, RunDir, reap


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_reaper_kills_orphans_of_a_dead_session(tmp_path, newest_build) -> None:
    root = tmp_path / "root"
    dead = RunDir(root, worker="dead")
    live = RunDir(root, worker="live")
    ports = PortAllocator()
    orphan = ProcessNode(NodeConfig("o", ports.allocate(), dead.path, dead.node_dir("o")), newest_build)
    neighbour = ProcessNode(NodeConfig("n", ports.allocate(), live.path, live.node_dir("n")), newest_build)
    try:
        orphan.start()
        neighbour.start()
        (dead.path / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "started": 0}))

        done = reap(root)

        assert any("killed pid" in line for line in done)
        orphan.proc.wait(timeout=5)  # type: ignore[union-attr]
        assert not orphan.is_alive()
        assert not dead.path.exists()
        assert neighbour.is_alive() and live.path.exists()  # our own session is untouched
    finally:
        orphan.cleanup()
        neighbour.cleanup()


def test_ports_are_never_handed_out_twice() -> None:
    ports = PortAllocator()
    given = [ports.allocate() for _ in range(50)]
    assert len(set(given)) == 50
    assert not ports.claim(given[0])
