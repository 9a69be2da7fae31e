"""No container outlives its session: finalizers, the per-process watcher, the start-of-session reaper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import docker
import pytest

from harness.nodes import images
from harness.nodes.base import ServerBuild
from harness.waits import wait_until

REPO = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _labelled(client, image: str, owner: int, session: str, host: str | None = None):
    labels = {
        images.LABEL_SESSION: session,
        images.LABEL_OWNER_PID: str(owner),
        images.LABEL_HOST: host or images.socket.gethostname(),
        images.LABEL_NODE: "reaper-test",
    }
    # Created, never started: the reaper must handle every state.
    return client.containers.create(image, command=["--version"], labels=labels, network="none")


def test_reaper_removes_containers_of_dead_owners_only(
    docker_engine, container_images: list[ServerBuild]
) -> None:
    image = container_images[0].location
    orphan = _labelled(docker_engine, image, _dead_pid(), "dead-session")
    mine = _labelled(docker_engine, image, os.getpid(), "live-session")
    foreign = _labelled(docker_engine, image, _dead_pid(), "other-host", host="some-other-host")
    try:
        removed = images.reap_containers()
        assert removed >= 1
        with pytest.raises(docker.errors.NotFound):
            docker_engine.containers.get(orphan.id)
        docker_engine.containers.get(mine.id)  # owner alive: kept
        docker_engine.containers.get(foreign.id)  # another host's pid means nothing here: kept
        assert images.reap_containers(session="live-session") == 1  # explicit session: removed
    finally:
        for container in (orphan, mine, foreign):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


SESSION_SCRIPT = textwrap.dedent(
    """
    import sys, time, tempfile
    from pathlib import Path
    from harness.nodes.base import NodeConfig, ServerBuild
    from harness.nodes.container import ContainerNode
    from harness.rundir import PortAllocator
    root = Path(tempfile.mkdtemp(prefix="harness-killed-session-"))
    (root / "m").mkdir()
    build = ServerBuild("c", "container", sys.argv[2], sys.argv[1])
    node = ContainerNode(NodeConfig("m", PortAllocator().allocate(), root, root / "m"), build)
    node.start()
    print(node.container_id, root, flush=True)
    time.sleep(600)
    """
)


def test_a_sigkilled_session_leaves_no_container(docker_engine, container_images: list[ServerBuild]) -> None:
    build = container_images[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", SESSION_SCRIPT, build.location, build.version],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, f"the session did not start its node: {proc.stderr.read() if proc.stderr else ''}"
        container_id, root = line.split()
        assert docker_engine.containers.get(container_id).status == "running"
        proc.send_signal(signal.SIGKILL)  # no finalizer runs
        proc.wait(timeout=10)

        def gone() -> bool:
            try:
                docker_engine.containers.get(container_id)
            except docker.errors.NotFound:
                return True
            return False

        wait_until(gone, timeout=30, what=f"the watcher to remove container {container_id[:12]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", locals().get("root", "/nonexistent-harness-root")], check=False)
