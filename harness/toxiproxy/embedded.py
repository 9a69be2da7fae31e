"""Run the server in-process (background thread) or as a child process, for fixtures.

Both classes have the same interface: `.start(timeout) -> self`, `.stop()`, context manager,
and `.host`, `.port`, `.url`. The child process variant exists so a test session can also
exercise the real command line and so a crash of the server cannot take pytest down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from harness.toxiproxy.server import ToxiproxyServer

READY_RE = re.compile(r"toxiproxy API listening on (\S+):(\d+)")


class ToxiproxyStartError(RuntimeError):
    """The server did not come up; the message says why (and shows the child's output)."""


class _Base:
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class EmbeddedToxiproxy(_Base):
    """The server on its own event loop in a daemon thread of this process."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, seed: int | None = None, proxy_metrics: bool = False,
        fast_path: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.proxy_metrics = proxy_metrics
        self.fast_path = fast_path  # False: every link uses the asyncio chain (tests the fallback)
        self.server: ToxiproxyServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None

    def start(self, timeout: float = 10) -> EmbeddedToxiproxy:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._main(ready, failure))
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="toxiproxy-embedded", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise ToxiproxyStartError(f"embedded toxiproxy did not start within {timeout} s")
        if failure:
            self._thread.join(5)
            self._thread = None
            raise ToxiproxyStartError(f"embedded toxiproxy failed to start on {self.host}:{self.port}: {failure[0]}")
        return self

    async def _main(self, ready: threading.Event, failure: list[BaseException]) -> None:
        self.server = ToxiproxyServer(
            self.host, self.port, seed=self.seed, proxy_metrics=self.proxy_metrics, fast_path=self.fast_path
        )
        self._stopped = asyncio.Event()
        try:
            await self.server.start()
        except OSError as exc:
            failure.append(exc)
            ready.set()
            return
        self.port = self.server.port
        ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def stop(self) -> None:
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None:
            return
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
        self._thread = None


class ToxiproxyProcess(_Base):
    """`python -m harness toxiproxy` as a child; it exits by itself if this process dies."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, seed: int | None = None,
        log_path: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._pump: threading.Thread | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "harness", "toxiproxy", "-host", self.host, "-port", str(self.port),
               "-parent-pid", str(os.getpid())]
        if self.seed is not None:
            cmd += ["-seed", str(self.seed)]
        return cmd

    def start(self, timeout: float = 10) -> ToxiproxyProcess:
        if self.proc is not None:
            return self
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        seen: list[str] = []
        found = threading.Event()

        def pump() -> None:
            # Forward all output to the log and spot the ready line; keeps the pipe drained.
            assert self.proc is not None and self.proc.stdout is not None
            for raw in self.proc.stdout:
                if self._log is not None:
                    with contextlib.suppress(ValueError, OSError):
                        self._log.write(raw)
                        self._log.flush()
                if not found.is_set():
                    line = raw.decode(errors="replace").rstrip()
                    seen.append(line)
                    match = READY_RE.search(line)
                    if match:
                        self.port = int(match.group(2))
                        found.set()

        self._pump = threading.Thread(target=pump, name="toxiproxy-child-output", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                code = self.proc.poll()
                self.stop()
                time.sleep(0.05)
                why = f"exited with status {code}" if code is not None else f"did not report ready within {timeout} s"
                output = "\n".join(seen[-20:]) or "(no output)"
                raise ToxiproxyStartError(f"toxiproxy child process {why}; its output:\n{output}")
        return self

    def stop(self, grace: float = 5.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._pump is not None:
            self._pump.join(2)  # the child is gone, so its output pipe reaches EOF
            self._pump = None
        if proc.stdout is not None:
            with contextlib.suppress(OSError):
                proc.stdout.close()
        self.proc = None
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
