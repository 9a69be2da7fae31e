"""A log in redis-server's own line format.

The harness and the Redis test idioms grep logs for exact phrases (`Ready to accept
connections`, `MASTER <-> REPLICA sync: Finished with success`), so the Python node writes the
same `pid:role dd Mon yyyy HH:MM:SS.mmm level message` lines.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

_LEVEL_CHARS = {"debug": ".", "verbose": "-", "notice": "*", "warning": "#"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Log:
    def __init__(self, path: str = "") -> None:
        self.path = path
        self.role_char = "M"
        self._fh: TextIO | None = None
        self.reopen(path)

    def reopen(self, path: str) -> None:
        """Open `path` for appending (empty = stdout), as Redis does when `logfile` is set."""
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()
        self.path = path
        self._fh = open(path, "a", buffering=1, encoding="utf-8", errors="replace") if path else sys.stdout

    def _write(self, level: str, message: str) -> None:
        now = time.time()
        tm = time.localtime(now)
        stamp = (
            f"{tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{int(now * 1000) % 1000:03d}"
        )
        line = f"{os.getpid()}:{self.role_char} {stamp} {_LEVEL_CHARS[level]} {message}\n"
        try:
            assert self._fh is not None
            self._fh.write(line)
            self._fh.flush()
        except (OSError, ValueError):
            pass

    def notice(self, message: str) -> None:
        self._write("notice", message)

    def warning(self, message: str) -> None:
        self._write("warning", message)

    def verbose(self, message: str) -> None:
        self._write("verbose", message)

    def close(self) -> None:
        if self._fh is not None and self._fh is not sys.stdout:
            self._fh.close()
        self._fh = None
