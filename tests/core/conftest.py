"""Fixtures for the core tests: real redis-server builds, a run dir, a port allocator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.nodes.base import ServerBuild
from harness.nodes.binaries import local_builds
from harness.nodes.factory import NodeFactory
from harness.rundir import PortAllocator, RunDir

BUILDS = local_builds()


@pytest.fixture(params=BUILDS or [None], ids=[b.label for b in BUILDS] or ["no-server"])
def build(request: pytest.FixtureRequest) -> ServerBuild:
    if request.param is None:
        pytest.skip("no redis-server found (python -m harness doctor says how to get one)")
    return request.param


@pytest.fixture
def newest_build() -> ServerBuild:
    if not BUILDS:
        pytest.skip("no redis-server found (python -m harness doctor says how to get one)")
    return BUILDS[-1]


@pytest.fixture
def factory(tmp_path) -> Iterator[NodeFactory]:
    run_dir = RunDir(tmp_path / "runs")
    nodes = NodeFactory(run_dir, PortAllocator())
    try:
        yield nodes
    finally:
        nodes.cleanup()
        run_dir.remove()
