"""A bounded single-consumer hand-off between pipeline stages.

asyncio.Queue cannot tell a stage "stop what you are waiting for" without cancelling the task,
and cancelling a task that has just been handed a chunk loses that chunk. This channel has the
two extra properties the toxic chain needs to splice stages in and out without losing or
reordering bytes:

* `interrupt()` wakes the consumer with the INTERRUPT marker instead of data;
* when a full channel frees a slot, the oldest waiting producer's item moves into the buffer
  at once (as in Go's channels), so "buffer empty" really means "nothing is on its way in",
  which is the moment a stage may be spliced out.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


EOF: Any = _Marker("EOF")  # end of stream: the source closed or failed
INTERRUPT: Any = _Marker("INTERRUPT")  # the stage must stop and look at its new configuration
SWITCH: Any = _Marker("SWITCH")  # the writer must stop: the link moves to the zero-copy path
TIMEOUT: Any = _Marker("TIMEOUT")  # get(timeout) saw nothing arrive in time


class Chunk:
    """One socket read, stamped with its read time (latency is measured from it)."""

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts


class Channel:
    __slots__ = ("_buf", "_cap", "_getter", "_putters", "_interrupted")

    def __init__(self, capacity: int = 1) -> None:
        self._buf: deque[Any] = deque()
        self._cap = max(1, capacity)
        self._getter: asyncio.Future[Any] | None = None
        self._putters: deque[tuple[asyncio.Future[None], Any]] = deque()
        self._interrupted = False

    def __len__(self) -> int:
        return len(self._buf)

    def idle(self) -> bool:
        """True when nothing is buffered and no producer is waiting to put."""
        return not self._buf and not self._putters

    async def put(self, item: Any) -> None:
        getter = self._getter
        if getter is not None and not getter.done():
            self._getter = None
            getter.set_result(item)
            return
        if len(self._buf) < self._cap and not self._putters:
            self._buf.append(item)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._putters.append((fut, item))
        await fut

    def _refill(self) -> None:
        while self._putters and len(self._buf) < self._cap:
            fut, item = self._putters.popleft()
            if fut.cancelled():
                continue
            self._buf.append(item)
            fut.set_result(None)

    async def get(self, timeout: float | None = None) -> Any:
        if self._interrupted:
            self._interrupted = False
            return INTERRUPT
        if self._buf:
            item = self._buf.popleft()
            self._refill()
            return item
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._getter = fut
        timer = None if timeout is None else loop.call_later(timeout, _expire, fut)
        try:
            return await fut
        finally:
            if timer is not None:
                timer.cancel()
            if self._getter is fut:
                self._getter = None

    def get_nowait(self) -> Any:
        """Next buffered item, ignoring interrupts; IndexError when empty."""
        item = self._buf.popleft()
        self._refill()
        return item

    def interrupt(self) -> None:
        getter = self._getter
        if getter is not None and not getter.done():
            self._getter = None
            getter.set_result(INTERRUPT)
        else:
            self._interrupted = True

    def clear_interrupt(self) -> None:
        self._interrupted = False


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_result(TIMEOUT)
