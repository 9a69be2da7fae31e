"""`python -m harness images build|list|rm` against a real engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.nodes import images
from harness.nodes.binaries import local_builds

REPO = Path(__file__).resolve().parents[2]
TEST_REPOSITORY = "harness-test/redis"


def _harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "images", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)


def test_build_list_and_remove_an_image(docker_engine) -> None:
    builds = local_builds()
    if not builds:
        pytest.skip("no local redis-server binary")
    build = builds[0]
    tag = f"{TEST_REPOSITORY}:{build.version}"
    try:
        done = _harness("build", "--redis-server", build.location, "--repository", TEST_REPOSITORY)
        assert done.returncode == 0, done.stderr
        assert f"built {tag} from {build.location}" in done.stdout
        assert images.image_version(tag, client=docker_engine)[0] == build.version
        listed = _harness("list")
        assert listed.returncode == 0 and tag in listed.stdout
        removed = _harness("rm", tag)
        assert removed.returncode == 0 and f"removed {tag}" in removed.stdout
        assert tag not in images.harness_images()
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


def test_rm_refuses_images_the_harness_did_not_build(docker_engine, scratch_image) -> None:
    tag = scratch_image("FROM scratch\nCOPY hello.txt /hello.txt\n")
    done = _harness("rm", tag)
    assert done.returncode == 1 and "was not built by the harness" in done.stderr


def test_build_of_a_non_redis_binary_fails_clearly(docker_engine, tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho hi\n")
    fake.chmod(0o755)
    done = _harness("build", "--redis-server", str(fake))
    assert done.returncode == 1
    assert "is not a redis-server" in done.stderr
    assert "Traceback" not in done.stderr
