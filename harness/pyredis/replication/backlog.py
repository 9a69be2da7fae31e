"""The replication backlog: the last `repl-backlog-size` bytes of the stream, by offset.

Kept as one bytearray trimmed in chunks rather than a true ring, so serving a PSYNC is a single
slice; trimming only after 16 KiB of overshoot keeps the memmove cost negligible per write.
"""

from __future__ import annotations

_SLACK = 16 * 1024


class Backlog:
    def __init__(self, size: int, master_offset: int) -> None:
        self.size = max(size, 16 * 1024)
        self.buf = bytearray()
        self.first = master_offset + 1  # offset of buf[0]

    def append(self, data: bytes | bytearray | memoryview) -> None:
        buf = self.buf
        buf += data
        excess = len(buf) - self.size
        if excess > _SLACK:
            del buf[:excess]
            self.first += excess

    def resize(self, size: int) -> None:
        self.size = max(size, 16 * 1024)
        excess = len(self.buf) - self.size
        if excess > 0:
            del self.buf[:excess]
            self.first += excess

    @property
    def histlen(self) -> int:
        return len(self.buf)

    def covers(self, offset: int) -> bool:
        """True if a replica asking to continue from `offset` can be served."""
        return self.first <= offset <= self.first + len(self.buf)

    def since(self, offset: int) -> bytes:
        return bytes(self.buf[offset - self.first :])
