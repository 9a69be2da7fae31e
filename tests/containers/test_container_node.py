"""The container backend against a real Docker engine: lifecycle, data across restarts, errors."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import docker
import pytest

from harness.config import Settings
from harness.nodes import images
from harness.nodes.base import HarnessError, NodeStartError, NodeState, ServerBuild
from harness.nodes.binaries import local_builds
from harness.nodes.container import ContainerNode, container_builds
from harness.nodes.factory import NodeFactory
from harness.waits import wait_until


def _gone(client: object, container_id: str) -> bool:
    try:
        client.containers.get(container_id)  # type: ignore[attr-defined]
    except docker.errors.NotFound:
        return True
    return False


def test_builds_name_the_version_inside_the_image(container_images: list[ServerBuild]) -> None:
    assert container_images, "at least one image was built from a local binary"
    for build in container_images:
        assert build.backend == "container"
        assert build.label == f"container-redis-{build.version}"
        assert build.location == images.image_tag(build.version)


def test_node_lifecycle_keeps_data_and_port_across_restarts(
    container_build: ServerBuild, cnodes: NodeFactory, docker_engine: object
) -> None:
    node = cnodes.create("m", container_build)
    assert isinstance(node, ContainerNode)
    assert node.info("server")["redis_version"] == container_build.version
    with node.client() as conn:
        conn.set("k", "v1")
    first_id = node.container_id
    port = node.port
    first_pid = node.pid
    # Host pids, not pid 1 every time: redis names files after its pid (temp-<time>.<pid>.rdb).
    assert first_pid and first_pid != 1 and node.info("server")["process_id"] == first_pid
    pidfile = node.config.data_dir / f"redis_{port}.pid"
    assert pidfile.read_text().strip() == str(first_pid)

    node.restart(save=True)
    assert node.port == port and node.container_id == first_id  # the same container again
    assert node.pid != first_pid
    with node.client() as conn:
        assert conn.get("k") == "v1"

    node.pause()
    assert node.state is NodeState.PAUSED and node.is_alive()
    assert not node.ping(timeout=0.3)  # frozen: the socket is open, nothing answers
    node.resume()
    assert node.ping()

    with node.client() as conn:
        conn.set("k", "v2")  # not saved: a SIGKILL loses it
    node.kill()
    assert node.state is NodeState.KILLED and not node.is_alive()
    node.start()
    with node.client() as conn:
        assert conn.get("k") == "v1"

    node.terminate()
    assert node.state is NodeState.STOPPED and not node.is_alive()
    written = {p.name: p.stat().st_uid for p in node.config.data_dir.iterdir()}
    assert f"dump{port}.rdb" in written and f"redis{port}.log" in written
    assert set(written.values()) == {os.getuid()}  # the host can clean up what the server wrote
    assert "Ready to accept connections" in node.log_text()

    node.cleanup()
    assert _gone(docker_engine, first_id)


def test_kill_while_paused_and_restart_without_data(container_images: list[ServerBuild], cnodes: NodeFactory) -> None:
    node = cnodes.create("m", container_images[-1])
    with node.client() as conn:
        conn.set("k", "v")
        conn.save()
    node.pause()
    node.kill()  # SIGKILL reaches a frozen container: it dies without running again
    assert not node.is_alive()
    node.restart(keep_data=False)
    with node.client() as conn:
        assert conn.dbsize() == 0


def test_directive_change_applies_at_next_start(container_images: list[ServerBuild], cnodes: NodeFactory) -> None:
    node = cnodes.create("m", container_images[-1])
    node.set_directive("requirepass", "s3cret")
    node.restart()
    assert node.password == "s3cret"
    with node.client() as conn:
        assert conn.config_get("requirepass")["requirepass"] == "s3cret"


def test_a_server_that_exits_at_start_is_reported_with_its_log(
    container_images: list[ServerBuild], cnodes: NodeFactory
) -> None:
    started = time.monotonic()
    with pytest.raises(NodeStartError) as info:
        cnodes.create("bad", container_images[-1], directives=[("no-such-directive", "1")])
    assert time.monotonic() - started < 15, "an exited container is noticed at once, not after the timeout"
    message = str(info.value)
    assert "exited at start" in message
    assert "no-such-directive" in message  # redis's own complaint, from `docker logs`


def test_port_in_use_is_reported(container_images: list[ServerBuild], cnodes: NodeFactory) -> None:
    first = cnodes.create("a", container_images[-1])
    with pytest.raises(NodeStartError, match="exited at start"):
        cnodes.create("b", container_images[-1], port=first.port)


def test_missing_image_says_how_to_build_one(docker_engine: object) -> None:
    with pytest.raises(images.ImageError, match="python -m harness images build"):
        container_builds(Settings(images=["harness-test/does-not-exist:0"]))


def test_node_of_a_missing_image_fails_clearly(cnodes: NodeFactory, docker_engine: object) -> None:
    build = ServerBuild("image:nope", "container", "7.0.15", "harness-test/does-not-exist:0")
    with pytest.raises(HarnessError, match="does not pull"):
        cnodes.create("m", build)


def test_image_without_a_redis_server_is_refused(scratch_image: Callable[[str], str]) -> None:
    tag = scratch_image("FROM scratch\nCOPY hello.txt /hello.txt\n")
    started = time.monotonic()
    with pytest.raises(images.ImageError, match="holds no Redis-compatible server"):
        container_builds(Settings(images=[tag]))
    assert time.monotonic() - started < 30
    assert not [c for c in docker.from_env().containers.list(all=True, filters={"ancestor": tag})], \
        "probe containers are removed"


def test_replication_between_containers_survives_a_replica_restart(
    container_build: ServerBuild, cnodes: NodeFactory
) -> None:
    master = cnodes.create("m", container_build)
    with master.client() as conn:
        for i in range(100):
            conn.set(f"k{i}", i)
    # The seed's way: `replicaof` in the replica's conf file, so it survives the restart.
    replica = cnodes.create("r1", container_build, directives=[("replicaof", f"{master.host} {master.port}")])

    def offsets() -> tuple[str, int, int]:
        r, m = replica.info(), master.info()
        return r.get("master_link_status", "?"), r.get("slave_repl_offset", -1), m["master_repl_offset"]

    def in_sync(o: tuple[str, int, int]) -> bool:
        return o[0] == "up" and o[1] == o[2]

    wait_until(offsets, in_sync, timeout=20, what="replica in sync with its master")
    replica.restart(save=True)
    with master.client() as conn:
        conn.set("after", "restart")
    wait_until(offsets, in_sync, timeout=20, what="restarted replica back in sync")
    with replica.client() as conn:
        assert conn.dbsize() == 101 and conn.get("after") == "restart"
        assert conn.info("replication")["role"] == "slave"
    assert "MASTER <-> REPLICA sync" in replica.log_text()


def test_foreign_image_with_its_own_entrypoint_runs_as_is(
    docker_engine, container_images: list[ServerBuild], cnodes: NodeFactory, tmp_path
) -> None:
    """An image the harness did not build (server on PATH, a wrapper entrypoint, no harness
    labels), like an official registry image, is probed and run without changes."""
    source = [b for b in local_builds() if b.version == container_images[-1].version][0]
    context = images.assemble_context(source.location, tmp_path / "ctx")
    rootfs = context.path / "rootfs"
    (rootfs / "usr/bin").mkdir(parents=True, exist_ok=True)
    (rootfs / images.SERVER_IN_IMAGE.lstrip("/")).rename(rootfs / "usr/bin/redis-server")
    (context.path / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/bin:/bin\n"
        'ENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["redis-server"]\n'
    )
    tag = "harness-test/foreign:1"
    docker_engine.images.build(path=str(context.path), tag=tag, rm=True, forcerm=True)
    try:
        images._probed.pop(tag, None)
        (build,) = container_builds(Settings(images=[tag]))
        assert build.label == f"image:{tag}" and build.version == source.version
        node = cnodes.create("m", build)
        with node.client() as conn:
            conn.set("k", "v")
            assert conn.get("k") == "v"
        node.restart(save=True)
        with node.client() as conn:
            assert conn.get("k") == "v"
        node.cleanup()
    finally:
        images._probed.pop(tag, None)
        docker_engine.images.remove(tag, force=True)
