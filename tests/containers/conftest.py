"""Fixtures for the container backend's own tests: a real Docker engine, real images, real nodes.

Tests that need an engine skip with the engine's own explanation when none answers, so a
machine without Docker still runs the engine-free tests here and says why the rest did not run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from harness.config import Settings
from harness.nodes import images
from harness.nodes.base import ServerBuild
from harness.nodes.binaries import local_builds
from harness.nodes.factory import NodeFactory
from harness.rundir import PortAllocator, RunDir


@pytest.fixture(scope="session")
def docker_engine() -> object:
    ok, why = images.docker_status()
    if not ok:
        pytest.skip(f"needs a Docker engine: {why}")
    return images.engine()


@pytest.fixture(scope="session")
def container_images(docker_engine: object) -> list[ServerBuild]:
    """One container build per local redis-server binary; missing images are built first."""
    from harness.nodes.container import container_builds

    present = set(images.harness_images())
    binaries = local_builds()
    if not binaries:
        pytest.skip("no local redis-server binary to build images from (python -m harness doctor)")
    for build in binaries:
        if images.image_tag(build.version) not in present:
            images.build_image(build.location, client=docker_engine)

    return container_builds(Settings(images=[images.image_tag(b.version) for b in binaries]))


@pytest.fixture(params=["6.2", "7.0", "8.2"])
def container_build(request: pytest.FixtureRequest, container_images: list[ServerBuild]) -> ServerBuild:
    """Each Redis series the matrix covers, as a container build (skipped when not available)."""
    for build in container_images:
        if build.version.startswith(request.param + "."):
            return build
    pytest.skip(f"no container image of Redis {request.param} (no local binary of that series)")


@pytest.fixture
def cnodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    """A node factory of our own (not the plugin's) so these tests never depend on --backend."""
    run_dir = RunDir(tmp_path_factory.mktemp("cnodes"), worker="containers")
    factory = NodeFactory(run_dir, PortAllocator())
    try:
        yield factory
    finally:
        factory.cleanup()
        run_dir.remove()


@pytest.fixture
def scratch_image(docker_engine: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Build throwaway images from a Dockerfile text; all removed at teardown."""
    built: list[str] = []

    def build(dockerfile: str) -> str:
        context = tmp_path_factory.mktemp("ctx")
        (context / "Dockerfile").write_text(dockerfile)
        (context / "hello.txt").write_text("not a redis server\n")
        tag = f"harness-test/scratch:{len(built)}"
        docker_engine.images.build(path=str(context), tag=tag, rm=True, forcerm=True)  # type: ignore[attr-defined]
        built.append(tag)
        return tag

    yield build
    for tag in built:
        try:
            docker_engine.images.remove(tag, force=True)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - already gone
            pass
