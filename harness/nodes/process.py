"""A Redis-compatible server run as a child process of the test (redis-server, or our Python node).

Signals are the whole fault vocabulary of a process: SIGKILL for a crash, SIGTERM for a polite
stop, SIGSTOP/SIGCONT for a hung server. The child dies with the test process
(PR_SET_PDEATHSIG), so even a SIGKILLed pytest leaves nothing running; the session reaper
removes its files.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis

from harness.nodes import conf
from harness.nodes.base import Node, NodeConfig, NodeStartError, NodeState, ServerBuild
from harness.recorder import current as current_recorder

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL it when the harness dies."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process. A node
# started from a short-lived thread (a fault schedule's timer, a helper thread in a test) would
# be killed the moment that thread ends. So every child is forked by one long-lived thread.
_spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="harness-spawner")


def spawn(argv: list[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen from the long-lived spawner thread, with the child tied to this process's life."""
    popen_kwargs.setdefault("preexec_fn", _die_with_parent)

    def fork() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, **popen_kwargs)

    return _spawner.submit(fork).result(timeout=60)


class ProcessNode(conf.SeedStyleFiles, Node):
    """A server binary started with the node's conf file as its only argument."""

    def __init__(self, config: NodeConfig, build: ServerBuild) -> None:
        super().__init__(config, build)
        self.proc: subprocess.Popen[bytes] | None = None
        self.write_conf()

    # --- files ----------------------------------------------------------------------------
    @property
    def stdout_path(self) -> Path:
        return self.config.data_dir / "stdout.log"

    def command(self, conf_path: Path) -> list[str]:
        """argv of the server; the Python backend overrides this."""
        return [self.build.location, str(conf_path)]

    def log_text(self) -> str:
        parts = []
        for path in (self.log_path, self.stdout_path):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")
                if text.strip():
                    parts.append(text)
        return "\n".join(parts)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        if self.is_alive():
            raise NodeStartError(f"node {self.name} is already running (pid {self.pid})")
        path = self.write_conf()
        with open(self.stdout_path, "ab") as out:
            self.proc = spawn(
                self.command(path),
                cwd=self.config.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest, which tears nodes down in order
            )
        self._wait_ready(timeout)
        self.state = NodeState.RUNNING
        current_recorder().event("node", "start", self.name, pid=self.pid, port=self.port)

    def _wait_ready(self, timeout: float) -> None:
        """Ready means PING answers PONG (a LOADING error is not ready yet)."""
        end = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            if not self.is_alive():
                code = self.proc.returncode if self.proc else None
                raise NodeStartError(
                    f"node {self.name} ({self.build.label}) exited at start with code {code}; "
                    f"conf {self.conf_path}\n--- log tail ---\n{self.log_tail()}"
                )
            if time.monotonic() >= end:
                break
            try:
                with self.client(timeout=1.0) as conn:
                    if conn.ping():
                        return
            except redis.AuthenticationError as exc:
                raise NodeStartError(f"node {self.name} rejected the harness's password: {exc}") from None
            except (redis.RedisError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.02)
        self.kill()
        raise NodeStartError(
            f"node {self.name} ({self.build.label}) did not answer PING on {self.address} within "
            f"{timeout:.0f} s (last: {last_error})\n--- log tail ---\n{self.log_tail()}"
        )

    def _wait_exit(self, timeout: float) -> bool:
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, save: bool | None = None, timeout: float = 20.0) -> None:
        sent = self._send_shutdown(save, timeout)
        if sent is None:
            return
        if not self._wait_exit(timeout):
            self.kill()
            raise NodeStartError(f"node {self.name} did not exit within {timeout:.0f} s of {sent}")
        self.state = NodeState.STOPPED
        current_recorder().event("node", "stop", self.name, save=save)

    def kill(self) -> None:
        if self.is_alive() and self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            current_recorder().event("node", "kill", self.name)
        self.state = NodeState.KILLED

    def terminate(self, timeout: float = 20.0) -> None:
        if not self.is_alive() or self.proc is None:
            return
        if self.state is NodeState.PAUSED:
            self.resume()
        self.proc.send_signal(signal.SIGTERM)
        current_recorder().event("node", "sigterm", self.name)
        if not self._wait_exit(timeout):
            self.kill()
            raise NodeStartError(f"node {self.name} ignored SIGTERM for {timeout:.0f} s and was killed")
        self.state = NodeState.STOPPED

    def pause(self) -> None:
        if not self.is_alive() or self.proc is None:
            raise NodeStartError(f"cannot pause node {self.name}: it is not running")
        self.proc.send_signal(signal.SIGSTOP)
        self._wait_proc_state("T", "stopped (SIGSTOP)")
        self.state = NodeState.PAUSED
        current_recorder().event("node", "pause", self.name)

    def resume(self) -> None:
        if self.is_alive() and self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
            if self.state is NodeState.PAUSED:
                current_recorder().event("node", "resume", self.name)
        if self.state is NodeState.PAUSED:
            self.state = NodeState.RUNNING

    def _wait_proc_state(self, wanted: str, what: str, timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        state = "?"
        while time.monotonic() < end:
            try:
                stat = Path(f"/proc/{self.pid}/stat").read_text()
                state = stat.rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            if state == wanted:
                return
            time.sleep(0.005)
        raise NodeStartError(f"node {self.name} did not become {what} within {timeout} s (state {state})")

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            if self.proc is not None and self.is_alive():
                self.proc.send_signal(signal.SIGCONT)
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.state = NodeState.KILLED if self.state is not NodeState.STOPPED else self.state
