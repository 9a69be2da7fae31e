"""A Redis-compatible server in a Docker container, driven like a local process.

The container shares the host's network (so the harness picks the port, every byte stays on
127.0.0.1 and Toxiproxy sits between nodes exactly as with processes), and sees the run dir and
its data dir at the same paths as the host. The conf files the process backend writes therefore
work unchanged: their `include` and `dir` lines name host paths that exist inside too. The
server runs as the host's uid, so the host can read, wipe and delete everything it writes.

testcontainers creates the container; everything after that goes through the wrapped docker
SDK container, because testcontainers' `stop()` deletes the container and with it the chance
to restart a node on the same data. Ryuk (testcontainers' reaper) needs an image pull, which
offline machines cannot do: it is disabled, and containers carry owner labels instead, which
`reap_containers()` and a per-process watcher use to remove what a dead session left.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path
from typing import Any

import redis

from harness.nodes import conf, images
from harness.nodes.base import (
    HarnessError,
    Node,
    NodeConfig,
    NodeStartError,
    NodeState,
    ServerBuild,
)
from harness.recorder import current as current_recorder
from harness.waits import WaitTimeout, wait_until

# Must be set before testcontainers reads its configuration (at import time); we also set the
# parsed value below in case something imported testcontainers before us.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
from testcontainers.core.config import testcontainers_config  # noqa: E402
from testcontainers.core.container import DockerContainer  # noqa: E402

testcontainers_config.ryuk_disabled = True

# Re-exported for the core reaper, the plugin and doctor.
reap_containers = images.reap_containers
docker_status = images.docker_status
harness_images = images.harness_images

_LIVE = ("running", "paused", "restarting")


def container_builds(settings: Any) -> list[ServerBuild]:
    """One ServerBuild per image: `--image` names, or every harness image when none was given.

    Raises EngineError without an engine and ImageError for a missing or non-Redis image;
    the plugin turns those into a skip or a usage error.
    """
    client = images.engine()
    names = list(getattr(settings, "images", None) or [])
    source = "--image"
    if not names:
        # Standard tags first, so a version built under another --repository never shadows them.
        names = sorted(images.harness_images(),
                       key=lambda tag: (not tag.startswith(images.REPOSITORY + ":"), tag))
        source = "harness image"
        if not names:
            raise images.ImageError(
                "the container backend has no image to run: build images from the local "
                "redis-server binaries with `python -m harness images build`, or pass --image NAME"
            )
    builds: dict[str, ServerBuild] = {}
    for name in names:
        labels = images.image_labels(name, client)
        version, _server = images.image_version(name, client=client)
        if images.LABEL_IMAGE in labels:
            label = f"container-redis-{version}"
        else:
            label = f"image:{name}"
        if label in builds:
            continue  # two tags of one image, or the same version twice: keep the first
        builds[label] = ServerBuild(label=label, backend="container", version=version,
                                    location=name, source=source)
    return sorted(builds.values(), key=lambda b: (b.version_tuple, b.label))


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-") or "node"


class ContainerNode(conf.SeedStyleFiles, Node):
    """A node whose server runs in a container of `build.location` (an image name)."""

    def __init__(self, config: NodeConfig, build: ServerBuild) -> None:
        super().__init__(config, build)
        self._tc: DockerContainer | None = None
        self._container: Any = None  # the docker SDK container, once created
        self._pid: int | None = None  # the server's pid on this host (for an immediate SIGSTOP)
        self.write_conf()

    @property
    def container_name(self) -> str:
        return f"harness-{images.SESSION_ID}-{_slug(self.name)}-{self.port}"

    @property
    def pid(self) -> int | None:
        """The server's pid on the host (containers share the host's pid namespace)."""
        return self._pid if self.is_alive() else None

    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container is not None else None

    def docker_logs(self) -> str:
        """What the server printed to stdout/stderr: config errors before the logfile opens."""
        if self._container is None:
            return ""
        try:
            return str(self._container.logs(stdout=True, stderr=True).decode(errors="replace"))
        except Exception as exc:  # noqa: BLE001 - logs are evidence, never a new failure
            return f"(docker logs unavailable: {images._short(exc)})"

    def log_text(self) -> str:
        parts = []
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            if text.strip():
                parts.append(text)
        printed = self.docker_logs()
        if printed.strip():
            parts.append(f"--- docker logs {self.container_name} ---\n{printed}")
        return "\n".join(parts)

    # --- container state --------------------------------------------------------------------
    def _status(self) -> tuple[str, int | None]:
        """(docker status, exit code) of the container; ("absent", None) when there is none."""
        if self._container is None:
            return "absent", None
        try:
            self._container.reload()
        except Exception:  # noqa: BLE001 - removed behind our back, or the engine is gone
            return "absent", None
        state = self._container.attrs.get("State", {})
        return str(self._container.status), state.get("ExitCode")

    def is_alive(self) -> bool:
        return self._status()[0] in _LIVE

    def _wait_exited(self, timeout: float, what: str) -> None:
        try:
            wait_until(self._status, lambda s: s[0] not in _LIVE, timeout=timeout,
                       what=f"container of node {self.name} to exit after {what}", interval=0.02)
        except WaitTimeout:
            self.kill()
            raise NodeStartError(
                f"node {self.name} ({self.build.label}) did not exit within {timeout:.0f} s of {what}; "
                f"it was killed\n--- log tail ---\n{self.log_tail()}"
            ) from None

    # --- lifecycle ------------------------------------------------------------------------
    def _create(self) -> None:
        """Create and start the container (first start); later starts reuse it."""
        client = images.engine()
        images.image_labels(self.build.location, client)  # missing image: say how to build one
        _, server = images.image_version(self.build.location, client=client)
        run_dir = str(self.config.run_dir)
        data_dir = str(self.config.data_dir)
        images.start_watcher()
        container = (
            DockerContainer(self.build.location, name=self.container_name)
            .with_command([str(self.conf_path)])
            .with_volume_mapping(run_dir, run_dir, "ro")
            .with_volume_mapping(data_dir, data_dir, "rw")
            .with_kwargs(
                network="host",  # also stops testcontainers from choosing a network itself
                # The host's pid namespace: in its own, the server is pid 1 on every start, and
                # redis names its sync temp file temp-<unixtime>.<pid>.rdb, so a replica killed
                # mid-sync and restarted within the second finds its own leftover ("File exists")
                # and loses 5 s and a full sync. Host pids also make the pidfile true for the host.
                pid_mode="host",
                entrypoint=[server],
                user=f"{os.getuid()}:{os.getgid()}",
                working_dir=data_dir,
                labels=images.owner_labels(self.name),
            )
        )
        try:
            container.start()
        except Exception as exc:  # noqa: BLE001 - docker raises many kinds; all mean "did not start"
            self._container = getattr(container, "_container", None)
            raise NodeStartError(
                f"node {self.name}: Docker could not start a container of {self.build.location}: "
                f"{images._short(exc)}\n{self.log_text()}"
            ) from None
        self._tc = container
        self._container = container.get_wrapped_container()

    def start(self, timeout: float = 20.0) -> None:
        status, _ = self._status()
        if status in _LIVE:
            raise NodeStartError(f"node {self.name} is already running (container {self.container_name})")
        self.write_conf()
        if status == "absent":
            self._container = None
            self._create()
        else:
            try:
                self._container.start()  # same container: same mounts, port and data
            except Exception as exc:  # noqa: BLE001
                raise NodeStartError(
                    f"node {self.name}: Docker could not restart container {self.container_name}: "
                    f"{images._short(exc)}\n{self.log_text()}"
                ) from None
        self._wait_ready(timeout)
        self._pid = int(self._container.attrs.get("State", {}).get("Pid") or 0) or None
        self.state = NodeState.RUNNING
        current_recorder().event("node", "start", self.name, container=self.container_name, port=self.port)

    def _probe_ready(self) -> str:
        status, code = self._status()
        if status not in _LIVE:
            return f"exited:{code}"
        try:
            with self.client(timeout=1.0) as conn:
                if not conn.ping():
                    return "no PONG"
                # The port may be answered by someone else (a leftover, a clash): make sure the
                # server that answers is the one started from this node's conf file.
                answered_from = conn.info("server").get("config_file")
        except redis.AuthenticationError:
            return "auth"
        except (redis.RedisError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if answered_from and str(answered_from) != str(self.conf_path):
            return f"port {self.port} is answered by another server (config_file {answered_from})"
        return "ready"

    def _wait_ready(self, timeout: float) -> None:
        """Ready means PING answers PONG; an exited container is reported at once with its logs."""
        try:
            state = wait_until(self._probe_ready, lambda s: s == "ready" or s == "auth" or s.startswith("exited:"),
                               timeout=timeout, what=f"node {self.name} to answer PING on {self.address}",
                               interval=0.02)
        except WaitTimeout as exc:
            self.kill()
            raise NodeStartError(
                f"node {self.name} ({self.build.label}, container {self.container_name}) did not answer "
                f"PING on {self.address} within {timeout:.0f} s (last: {exc.last})\n"
                f"--- log tail ---\n{self.log_tail()}"
            ) from None
        if state == "auth":
            self.kill()
            raise NodeStartError(f"node {self.name} rejected the harness's password")
        if state.startswith("exited:"):
            self.state = NodeState.KILLED
            raise NodeStartError(
                f"node {self.name} ({self.build.label}): container {self.container_name} exited at start "
                f"with code {state.split(':', 1)[1]}; conf {self.conf_path}\n--- log ---\n{self.log_tail(60)}"
            )

    def stop(self, save: bool | None = None, timeout: float = 20.0) -> None:
        sent = self._send_shutdown(save, timeout)
        if sent is None:
            return
        self._wait_exited(timeout, sent)
        self.state = NodeState.STOPPED
        current_recorder().event("node", "stop", self.name, save=save)

    def _signal(self, name: str) -> None:
        try:
            self._container.kill(signal=name)
        except Exception as exc:  # noqa: BLE001 - it may have exited between check and signal
            if self.is_alive():
                raise HarnessError(f"could not send {name} to node {self.name}: {images._short(exc)}") from None

    def kill(self) -> None:
        if self.is_alive():
            self._signal("SIGKILL")  # works on a paused container too: it dies without running again
            self._wait_exited(10.0, "SIGKILL")
            current_recorder().event("node", "kill", self.name)
        self.state = NodeState.KILLED

    def terminate(self, timeout: float = 20.0) -> None:
        if not self.is_alive():
            return
        if self.state is NodeState.PAUSED:
            self.resume()
        self._signal("SIGTERM")
        current_recorder().event("node", "sigterm", self.name)
        self._wait_exited(timeout, "SIGTERM")
        self.state = NodeState.STOPPED

    def _server_pid(self) -> int | None:
        """The server's pid on this host, if the engine is local and the pid is still this container's.

        Checked through /proc/<pid>/cgroup, which names the container id, so a recycled pid or a
        remote engine (DOCKER_HOST on another machine) yields None and is never signalled.
        """
        pid = self._pid
        if not pid or self._container is None:
            return None
        try:
            cgroups = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            return None
        return pid if self._container.id in cgroups else None

    def pause(self) -> None:
        """SIGSTOP the server at once, then `docker pause` the whole container.

        `docker pause` alone takes ~10 ms of API round trips before the freezer acts, during which
        a running workload lands more writes than the test saw before pausing; SIGSTOP makes the
        freeze as immediate as the process backend's, and the freezer then holds every process of
        the container (a BGSAVE child included) the way a hung container would be.
        """
        pid = self._server_pid()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        if self._status()[0] != "running":
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
            raise NodeStartError(f"cannot pause node {self.name}: it is not running")
        self._container.pause()
        self.state = NodeState.PAUSED
        current_recorder().event("node", "pause", self.name)

    def resume(self) -> None:
        if self._status()[0] == "paused":
            self._container.unpause()
            current_recorder().event("node", "resume", self.name)
        pid = self._server_pid()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGCONT)
        if self.state is NodeState.PAUSED:
            self.state = NodeState.RUNNING

    def cleanup(self) -> None:
        """Remove the container (killing it if needed); the data dir belongs to the run dir."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.remove(force=True)
        if self._tc is not None:
            with contextlib.suppress(Exception):
                self._tc.get_docker_client().client.close()
        self._container = None
        self._tc = None
        if self.state is not NodeState.STOPPED:
            self.state = NodeState.KILLED
