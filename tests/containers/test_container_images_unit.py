"""Image assembly and engine diagnostics that need no Docker engine (pure logic, real binaries)."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from harness.nodes import images
from harness.nodes.binaries import BinaryError, local_builds

LDD_DEBIAN = """\
\tlinux-vdso.so.1 (0x00007ffd1b5f2000)
\tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f1c2a000000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c29e00000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c2a400000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1c29e00000)
"""


def test_parse_ldd_keeps_libraries_and_loader_and_skips_vdso() -> None:
    paths, missing = images.parse_ldd(LDD_DEBIAN)
    assert paths == [
        "/lib/x86_64-linux-gnu/libssl.so.3",
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
    assert missing == []


def test_parse_ldd_reports_missing_libraries() -> None:
    paths, missing = images.parse_ldd("\tlibfoo.so.9 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n")
    assert missing == ["libfoo.so.9"]
    assert paths == ["/lib/libc.so.6"]


def test_dockerfile_is_from_scratch_with_labels_and_absolute_entrypoint() -> None:
    text = images.dockerfile_text("7.0.15", '/opt/my "odd" path/redis-server')
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "FROM scratch"  # nothing to pull
    assert 'harness.redis-version="7.0.15"' in text
    assert 'harness.source="/opt/my \\"odd\\" path/redis-server"' in text  # quoted safely
    assert f'ENTRYPOINT ["{images.SERVER_IN_IMAGE}"]' in text
    assert images.image_tag("7.0.15") == "harness/redis:7.0.15"


def _sha(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.mark.parametrize("build", local_builds(), ids=lambda b: b.label)
def test_context_holds_the_binary_its_libraries_and_the_loader(build, tmp_path: Path) -> None:
    context = images.assemble_context(build.location, tmp_path / "ctx")
    rootfs = tmp_path / "ctx" / "rootfs"
    assert context.version == build.version
    assert context.tag == f"harness/redis:{build.version}"
    server = rootfs / images.SERVER_IN_IMAGE.lstrip("/")
    assert _sha(server) == _sha(os.path.realpath(build.location))  # real bytes, not a symlink
    assert os.access(server, os.X_OK)
    needed = images.shared_libraries(os.path.realpath(build.location))
    assert needed, "a dynamically linked redis-server needs at least libc"
    for lib in needed:
        assert (rootfs / lib.lstrip("/")).is_file(), lib
        assert lib in context.files
    assert any("ld-linux" in f for f in context.files), "the dynamic loader must be in the image"
    assert stat.S_IMODE((rootfs / "tmp").stat().st_mode) == 0o1777
    assert (tmp_path / "ctx" / "Dockerfile").read_text().startswith("# redis-server " + build.version)


def test_context_refuses_a_file_that_is_not_a_redis_server(tmp_path: Path) -> None:
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    with pytest.raises(BinaryError, match="is not a redis-server"):
        images.assemble_context(str(fake), tmp_path / "ctx")


def test_owner_labels_name_this_process() -> None:
    labels = images.owner_labels("m")
    assert labels[images.LABEL_OWNER_PID] == str(os.getpid())
    assert labels[images.LABEL_SESSION] == images.SESSION_ID
    assert labels[images.LABEL_NODE] == "m"


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point the docker SDK at a socket that does not exist."""
    address = f"unix://{tmp_path}/no-such-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", address)
    monkeypatch.setattr(images, "_client", None)
    return address


def test_no_engine_is_a_fast_clear_error(no_engine: str) -> None:
    started = time.monotonic()
    with pytest.raises(images.EngineError) as info:
        images.engine()
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert no_engine in message
    assert "scripts/ci-docker.sh start" in message


def test_doctor_and_reaper_degrade_without_an_engine(no_engine: str) -> None:
    ok, why = images.docker_status()
    assert not ok and "no Docker engine answers" in why
    assert images.harness_images() == []
    assert images.reap_containers() == 0


def test_images_command_without_engine_says_how_to_start_one(no_engine: str, capsys) -> None:
    assert images.main(["list"]) == 1
    assert "scripts/ci-docker.sh start" in capsys.readouterr().err


def test_images_command_rejects_a_bad_binary(no_engine: str, capsys, tmp_path: Path) -> None:
    code = images.main(["build", "--redis-server", str(tmp_path / "nope")])
    assert code == 1
    err = capsys.readouterr().err
    assert "no such file" in err or "no Docker engine" in err
