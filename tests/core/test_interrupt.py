"""Nothing outlives a suite run: Ctrl-C tears everything down; SIGKILL leaves only files the reaper removes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.nodes.binaries import local_builds
from harness.waits import wait_until

HANGING_SUITE = '''
import time

def test_hangs(server, topology_factory):
    topo = topology_factory("m <- r1")
    print("TOPOLOGY-UP", flush=True)
    time.sleep(120)
'''


def _processes_under(root: Path) -> list[int]:
    """Pids whose working directory or command line lies under `root` (nodes, Toxiproxy)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(root)):
            found.append(int(entry.name))
    return found


def _children_named(parent: int, text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and text in cmdline:
            found.append(int(entry.name))
    return found


def _start_hanging_run(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, int]:
    builds = local_builds()
    if not builds:
        pytest.skip("no redis-server found")
    (tmp_path / "test_hang.py").write_text(HANGING_SUITE)
    root = tmp_path / "root"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_hang.py", "-s", "-p", "no:cacheprovider",
         "--server", builds[-1].version, f"--run-root={root}", f"--report-dir={tmp_path / 'reports'}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    wait_until(lambda: len(list(root.rglob("*.pid"))), lambda n: n >= 2, timeout=30,
               what="the child pytest to start both nodes")
    toxiproxy = wait_until(lambda: _children_named(proc.pid, "toxiproxy"), timeout=10,
                           what="the embedded Toxiproxy child process")
    return proc, root, toxiproxy[0]


def test_ctrl_c_tears_everything_down(tmp_path: Path) -> None:
    proc, root, toxiproxy = _start_hanging_run(tmp_path)
    nodes = _processes_under(root)
    assert len(nodes) >= 2
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output[-2000:]
    assert _processes_under(root) == []
    assert not Path(f"/proc/{toxiproxy}").exists()
    assert [p for p in (root / "redis-repl-harness").iterdir()] == []  # the run dir is gone


def test_sigkill_leaves_only_what_the_reaper_removes(tmp_path: Path) -> None:
    proc, root, toxiproxy = _start_hanging_run(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    # The nodes die with the test process (PR_SET_PDEATHSIG); Toxiproxy notices its parent left.
    wait_until(lambda: _processes_under(root), lambda pids: pids == [], timeout=10,
               what="the nodes of the killed session to exit")
    wait_until(lambda: Path(f"/proc/{toxiproxy}").exists(), lambda alive: not alive, timeout=10,
               what="the orphaned Toxiproxy to exit")
    leftovers = list((root / "redis-repl-harness").iterdir())
    assert len(leftovers) == 1  # the dead session's files stay until a reaper runs
    reaped = subprocess.run([sys.executable, "-m", "harness", "reap", f"--run-root={root}"],
                            capture_output=True, text=True, timeout=60, check=True)
    assert f"removed {leftovers[0]}" in reaped.stdout
    assert list((root / "redis-repl-harness").iterdir()) == []
