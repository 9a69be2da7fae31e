"""Per-session temp space, port allocation and the reaper for leftovers of killed sessions.

Every node gets a fresh dir under one root per pytest process. The root records its owner's
pid, so a later session can tell a live neighbour (another xdist worker) from the remains
of a session that was SIGKILLed, and clean up only the latter.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import time
import uuid
from pathlib import Path

ROOT_NAME = "redis-repl-harness"
OWNER_FILE = "owner.json"


def default_root() -> Path:
    return Path(tempfile.gettempdir()) / ROOT_NAME


class RunDir:
    """The temp dir of one pytest process (one xdist worker): base confs, then one dir per node."""

    def __init__(self, root: Path | None = None, worker: str = "main") -> None:
        self.root = root or default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / f"{worker}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.path.mkdir()
        (self.path / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))
        self._counter = 0

    def node_dir(self, name: str) -> Path:
        self._counter += 1
        path = self.path / f"{self._counter:04d}-{name}"
        path.mkdir()
        return path

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class PortAllocator:
    """Hands out free loopback ports, never the same one twice in this process.

    The OS picks a free port (bind to 0); we remember it so two nodes of one session never get
    the same port even if the first has not bound it yet.
    """

    def __init__(self) -> None:
        self._given: set[int] = set()

    def allocate(self) -> int:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in self._given:
                self._given.add(port)
                return port
        raise RuntimeError("could not find a free loopback port after 100 tries")

    def claim(self, port: int) -> bool:
        """Reserve a specific port (the seed's 6379-6381) if it is free right now."""
        if port in self._given or not port_is_free(port):
            return False
        self._given.add(port)
        return True


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one we may not signal counts as existing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _belongs_to(pid: int, session: Path) -> bool:
    """Whether `pid` was started by the harness inside `session`.

    redis-server rewrites its process title, so the command line cannot tell; but every node is
    started with its own dir as working directory, and that stays visible in /proc.
    """
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return cwd.startswith(str(session)) or str(session) in cmdline


def reap(root: Path | None = None) -> list[str]:
    """Kill processes and remove dirs left by sessions whose owner process is gone.

    A process is killed only if its pidfile lies in the dead session's dir and it runs inside
    that dir (so a recycled pid of an unrelated process is never touched).
    Returns what was done, for the log.
    """
    root = root or default_root()
    done: list[str] = []
    if not root.is_dir():
        return done
    for session in root.iterdir():
        owner = session / OWNER_FILE
        try:
            pid = int(json.loads(owner.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            # No readable owner: only reap if old (a session being created right now has none yet).
            if time.time() - session.stat().st_mtime < 60:
                continue
            pid = -1
        if pid > 0 and pid_alive(pid):
            # The owner is alive (a pytest process, maybe another xdist worker): not ours to touch.
            continue
        for pidfile in session.rglob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                child = int(pidfile.read_text().strip())
                if pid_alive(child) and _belongs_to(child, session):
                    os.kill(child, signal.SIGCONT)
                    os.kill(child, signal.SIGKILL)
                    done.append(f"killed pid {child} ({pidfile.name})")
        shutil.rmtree(session, ignore_errors=True)
        done.append(f"removed {session}")
    return done
