"""Read exactly what a master propagates: attach to it as a bare replica over a raw socket.

Datasets alone cannot tell whether a master sent `BLPOP` or `LPOP`, a relative or an absolute
expiry; the replication stream can. The tap sends `PSYNC ? -1` as a replica would, skips the
snapshot (disk-style `$<len>` or diskless `$EOF:<mark>`), ACKs it, then parses the commands
that follow. The master counts the tap as one more replica while it is attached; the tap
ACKs only once, so it suits tests shorter than the master's `repl-timeout`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from types import TracebackType

from harness.nodes.base import Node
from harness.pyredis.resp import ProtocolError, parse_command

_BOOKKEEPING = (b"PING", b"SELECT", b"REPLCONF")


class TapError(AssertionError):
    """The master did not answer as a master answers a replica (shown as a test failure)."""


class StreamTap:
    def __init__(self, node: Node, timeout: float = 10.0) -> None:
        self.node = node
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.commands: list[list[bytes]] = []

    def __enter__(self) -> StreamTap:
        self.sock = socket.create_connection((self.node.host, self.node.port), timeout=self.timeout)
        try:
            self.sock.sendall(b"REPLCONF capa eof capa psync2\r\n")
            self._expect_line(b"+OK")
            self.sock.sendall(b"PSYNC ? -1\r\n")
            offset = self._expect_line(b"+FULLRESYNC").split()[-1]
            self._skip_snapshot()
            # After a diskless snapshot the master holds the stream back until the first ACK.
            self.sock.sendall(b"REPLCONF ACK " + offset + b"\r\n")
        except BaseException:
            self.close()  # __exit__ does not run when __enter__ fails
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    # --- reading ------------------------------------------------------------------------------
    def _fill(self, deadline: float, what: str) -> None:
        assert self.sock is not None
        left = deadline - time.monotonic()
        if left <= 0:
            raise TapError(f"stream tap on {self.node.name}: timed out waiting for {what}")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            raise TapError(f"stream tap on {self.node.name}: timed out waiting for {what}") from None
        if not data:
            raise TapError(f"stream tap on {self.node.name}: master closed the link while waiting for {what}")
        self.buf += data

    def _line(self, what: str) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[:end]).rstrip(b"\r")
                del self.buf[: end + 1]
                if line:  # masters send bare "\n" keepalives until the snapshot starts
                    return line
                continue
            self._fill(deadline, what)

    def _expect_line(self, prefix: bytes) -> bytes:
        line = self._line(f"a {prefix.decode()} reply")
        if not line.startswith(prefix):
            raise TapError(f"stream tap on {self.node.name}: expected {prefix!r}, got {line!r}")
        return line

    def _skip_snapshot(self) -> None:
        deadline = time.monotonic() + self.timeout
        header = self._expect_line(b"$")
        if header.startswith(b"$EOF:"):
            mark = header[5:]
            while True:
                at = self.buf.find(mark)
                if at >= 0:
                    del self.buf[: at + len(mark)]
                    return
                self._fill(deadline, "the end of the diskless snapshot")
        size = int(header[1:])
        while len(self.buf) < size:
            self._fill(deadline, f"a {size}-byte snapshot")
        del self.buf[:size]

    def read_until(self, predicate: Callable[[list[bytes]], bool], what: str) -> list[list[bytes]]:
        """Collect propagated commands until `predicate(command)` holds for one; returns all so far."""
        deadline = time.monotonic() + self.timeout
        while True:
            while True:
                try:
                    command, end = parse_command(self.buf, 0)
                except ProtocolError as exc:
                    raise TapError(f"stream tap on {self.node.name}: bad stream ({exc})") from None
                if command is None:
                    break
                del self.buf[:end]
                if not command:
                    continue
                self.commands.append(command)
                if predicate(command):
                    return self.commands
            self._fill(deadline, what)

    def names(self) -> list[str]:
        """Upper-case command names seen so far, without the stream's bookkeeping (PING,
        SELECT, REPLCONF GETACK), which arrives whenever the master likes."""
        return [c[0].decode().upper() for c in self.commands if c[0].upper() not in _BOOKKEEPING]
