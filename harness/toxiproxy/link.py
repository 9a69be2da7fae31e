"""One proxied TCP connection: two links (upstream, downstream), each a chain of toxic stages.

A link runs in one of two modes:

* **fast** — no toxics on this stream: a thread moves bytes with `os.splice` through a kernel
  pipe, so no byte is copied into Python and no per-chunk Python work happens;
* **chain** — reader → stage per toxic (insertion order) → writer, joined by bounded channels
  so a stalled toxic pushes TCP back-pressure onto the sender.

Mode switches happen only at points where nothing is in flight: the splice thread leaves only
after its pipe is empty, and the reader hands over to the splice thread only by sending a
SWITCH marker that the writer sees after every earlier chunk. So adding or removing toxics on a
live connection never loses or reorders bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import random
import select
import socket
import struct
import threading
from typing import TYPE_CHECKING, Any

from harness.toxiproxy.channel import EOF, INTERRUPT, SWITCH, Channel, Chunk
from harness.toxiproxy.toxics import DONE, Toxic, passthrough

if TYPE_CHECKING:
    from harness.toxiproxy.proxy import Proxy

log = logging.getLogger("harness.toxiproxy")

READ_SIZE = 32 * 1024  # one chunk per read, as Toxiproxy does
PIPE_SIZE = 1024 * 1024
HAVE_SPLICE = hasattr(os, "splice") and hasattr(select, "poll")
_SPLICE_FLAGS = (getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)) if HAVE_SPLICE else 0
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}


class Stage:
    """Runs one toxic on one link; restarted (with a new toxicity draw) when the toxic changes."""

    def __init__(self, link: Link, toxic: Toxic) -> None:
        self.link = link
        self.toxic = toxic
        self.input = Channel(toxic.kind.buffer)
        self.output: Channel = link.sink
        self.rng = link.rng
        self.state: dict[str, Any] = {}  # survives restarts (limit_data's byte count)
        self.removed = False
        self.task: asyncio.Task[None] | None = None
        self._interrupted = False
        self._sleeper: asyncio.Future[bool] | None = None

    # --- what behaviours use -------------------------------------------------------------
    async def recv(self, timeout: float | None = None) -> Any:
        return await self.input.get(timeout)

    async def send(self, item: Any) -> None:
        # Read `output` at every send: splicing a neighbour out re-points it.
        await self.output.put(item)

    async def sleep(self, delay: float | None) -> bool:
        """Sleep `delay` seconds (None: until interrupted); False when interrupted."""
        if self._interrupted:
            return False
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()
        self._sleeper = fut
        timer = None if delay is None else loop.call_later(max(0.0, delay), _resolve, fut, True)
        try:
            return await fut
        finally:
            if timer is not None:
                timer.cancel()
            self._sleeper = None

    # --- control ------------------------------------------------------------------------
    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())

    def interrupt(self) -> None:
        self._interrupted = True
        self.input.interrupt()
        if self._sleeper is not None:
            _resolve(self._sleeper, False)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        try:
            await self._run_stage()
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in a toxic must end this connection, not stall it silently
            log.exception("toxic %s failed; closing the connection", self.toxic.name)
            self.link.conn.abort()

    async def _run_stage(self) -> None:
        while not self.removed:
            self._interrupted = False
            self.input.clear_interrupt()
            toxic = self.toxic
            if self.rng.random() < toxic.toxicity:
                outcome = await toxic.kind.behaviour(toxic, self)
            else:
                outcome = await passthrough(toxic, self)
            if outcome == DONE:
                return
        if self.toxic.type == "timeout":
            # Data it swallowed leaves the stream corrupt, so its removal closes the link.
            await self.send(EOF)
            return
        while not self.input.idle():
            item = self.input.get_nowait()
            await self.send(item)
            if item is EOF:
                return
        self.link.splice_out(self)


def _resolve(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


class Link:
    """One direction of a connection: reads `src`, writes `dst`."""

    def __init__(
        self, conn: Connection, direction: str, src: socket.socket, dst: socket.socket,
        toxics: list[Toxic], rng: random.Random, fast: bool,
    ) -> None:
        self.conn = conn
        self.direction = direction
        self.src = src
        self.dst = dst
        self.rng = rng
        self.sink = Channel(1)
        self.output: Channel = self.sink  # where the reader puts chunks
        self.stages: list[Stage] = []
        self.fast_ok = fast and HAVE_SPLICE
        self.received = 0
        self.sent = 0
        self.write_ok = True
        self.task: asyncio.Task[None] | None = None
        self._read_wait: asyncio.Future[None] | None = None
        self._stop_reading = False
        self._reader: asyncio.Task[Any] | None = None
        # zero-copy path
        self._pipe: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        self._fast_stop = False
        self._fast_abort = False
        self._fast_exit: asyncio.Future[str] | None = None
        for toxic in toxics:
            self._append(toxic)

    # --- toxic changes (called by the proxy on the event loop) ----------------------------
    def _append(self, toxic: Toxic) -> Stage:
        stage = Stage(self, toxic)
        live = [s for s in self.stages]
        prev: Stage | Link = live[-1] if live else self
        prev.output = stage.input
        self.stages.append(stage)
        return stage

    def add_toxic(self, toxic: Toxic) -> None:
        stage = self._append(toxic)
        if self.task is not None:
            stage.start()
            self._request_switch()

    def update_toxic(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic is toxic and not stage.removed:
                stage.interrupt()

    def remove_toxic(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic is toxic and not stage.removed:
                stage.removed = True
                stage.interrupt()

    def splice_out(self, stage: Stage) -> None:
        """Drop a drained stage from the chain; called when nothing is buffered or on its way in."""
        index = self.stages.index(stage)
        prev: Stage | Link = self.stages[index - 1] if index > 0 else self
        prev.output = stage.output
        del self.stages[index]
        if not self.stages:
            self._poke_reader()

    # --- running ------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self._run())

    async def _run(self) -> None:
        outcome: Any = EOF
        try:
            for stage in self.stages:
                stage.start()
            while True:
                if not self.stages and self.fast_ok:
                    outcome = await self._run_fast()
                    if outcome == "unsupported":  # splice refused these sockets: use the chain
                        self.fast_ok = False
                        continue
                    if outcome == "switch":
                        continue
                    break
                self.output = self.stages[0].input if self.stages else self.sink
                self._stop_reading = False
                self._reader = asyncio.get_running_loop().create_task(self._read_loop())
                self._reader.add_done_callback(self._reader_done)
                outcome = await self._write_loop()
                if outcome is SWITCH:
                    await self._reader
                    continue
                break
        finally:
            self._stop_reading = True
            if self._reader is not None:
                self._reader.cancel()
            for stage in self.stages:
                stage.cancel()
            self.conn.link_finished(self)

    async def _read_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        sock, fd = self.src, self.src.fileno()
        while True:
            if self._stop_reading:
                return None
            if not self.stages and self.fast_ok and self.output is self.sink:
                await self.sink.put(SWITCH)
                return SWITCH
            try:
                data = sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                fut: asyncio.Future[None] = loop.create_future()
                self._read_wait = fut
                loop.add_reader(fd, _resolve, fut, None)
                try:
                    await fut
                finally:
                    loop.remove_reader(fd)
                    self._read_wait = None
                continue
            except OSError:
                data = b""
            if not data:
                await self.output.put(EOF)
                return EOF
            self.received += len(data)
            await self.output.put(Chunk(data, loop.time()))

    def _reader_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("reader of %s link failed: %r; closing the connection", self.direction, task.exception())
            self.conn.abort()

    def _poke_reader(self) -> None:
        if self._read_wait is not None:
            _resolve(self._read_wait, None)

    async def _write_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        while True:
            item = await self.sink.get()
            if item is INTERRUPT:
                continue
            if item is SWITCH or item is EOF:
                return item
            if not item.data:
                continue
            try:
                await loop.sock_sendall(self.dst, item.data)
            except OSError:
                self.write_ok = False
                return EOF
            self.sent += len(item.data)

    # --- zero-copy path -------------------------------------------------------------------
    def _request_switch(self) -> None:
        """Ask the splice thread to hand the link back to the chain (a toxic was added)."""
        self._fast_stop = True
        if self._wake is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake[1], b"x")

    def abort(self) -> None:
        self._fast_abort = True
        self._request_switch()
        self._stop_reading = True
        self._poke_reader()

    async def wait_fast_exit(self, timeout: float) -> None:
        if self._fast_exit is not None and not self._fast_exit.done():
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._fast_exit), timeout)

    def close_fds(self) -> None:
        for pair in (self._pipe, self._wake):
            if pair:
                for fd in pair:
                    with contextlib.suppress(OSError):
                        os.close(fd)
        self._pipe = self._wake = None

    async def _run_fast(self) -> str:
        loop = asyncio.get_running_loop()
        if self._pipe is None:
            self._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            with contextlib.suppress(OSError):
                fcntl.fcntl(self._pipe[1], _F_SETPIPE_SZ, PIPE_SIZE)
            self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self._wake is not None
        with contextlib.suppress(OSError):  # drain an old wake-up
            while os.read(self._wake[0], 64):
                pass
        self._fast_stop = False
        if self._fast_abort:
            return "abort"
        exit_fut: asyncio.Future[str] = loop.create_future()
        self._fast_exit = exit_fut

        def target() -> None:
            result = "eof"
            try:
                result = self._splice_loop()
            except Exception:
                result = "eof"
            finally:
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(_resolve, exit_fut, result)

        threading.Thread(target=target, name=f"toxiproxy-splice-{self.direction}", daemon=True).start()
        result = await asyncio.shield(exit_fut)
        return result

    def _splice_loop(self) -> str:
        """Runs in its own thread: src → pipe → dst until EOF, error, or a stop request."""
        assert self._pipe is not None and self._wake is not None
        src, dst = self.src.fileno(), self.dst.fileno()
        pipe_r, pipe_w = self._pipe
        wake_r = self._wake[0]
        splice = os.splice
        flags = _SPLICE_FLAGS
        wait_in = select.poll()
        wait_in.register(src, select.POLLIN)
        wait_in.register(wake_r, select.POLLIN)
        wait_out = select.poll()
        wait_out.register(dst, select.POLLOUT)
        wait_out_abortable = select.poll()
        wait_out_abortable.register(dst, select.POLLOUT)
        wait_out_abortable.register(wake_r, select.POLLIN)
        while True:
            if self._fast_stop:
                return "switch"
            try:
                n = splice(src, pipe_w, PIPE_SIZE, flags=flags)
            except (BlockingIOError, InterruptedError):
                wait_in.poll()
                continue
            except OSError as exc:
                if exc.errno in _UNSUPPORTED and self.received == 0:
                    return "unsupported"
                return "eof"
            if n == 0:
                return "eof"
            self.received += n
            while n:
                try:
                    m = splice(pipe_r, dst, n, flags=flags)
                except (BlockingIOError, InterruptedError):
                    # Once a switch is requested the wake pipe stays readable; stop polling it
                    # then, but keep flushing: these bytes were read and must be delivered.
                    switching = self._fast_stop and not self._fast_abort
                    (wait_out if switching else wait_out_abortable).poll(1000)
                    if self._fast_abort:
                        return "abort"
                    continue
                except OSError:
                    self.write_ok = False
                    return "eof"
                n -= m
                self.sent += m


class Connection:
    """A client socket, its upstream socket, and the two links between them."""

    def __init__(self, proxy: Proxy, client: socket.socket, server: socket.socket, index: int) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.closing = False
        self._finished = 0
        # A reset_peer toxic present at connect time makes every close of this connection an
        # RST, whatever its toxicity draw (Toxiproxy does the same).
        self.linger = any(t.type == "reset_peer" for t in proxy.toxics.all())
        if self.linger:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        seed = proxy.server.seed
        fast = proxy.server.fast_path

        def rng(direction: str) -> random.Random:
            if seed is None:
                return random.Random()
            return random.Random(f"{seed}/{proxy.name}/{index}/{direction}")

        self.links = {
            "upstream": Link(self, "upstream", client, server, proxy.toxics.stream("upstream"), rng("upstream"), fast),
            "downstream": Link(self, "downstream", server, client, proxy.toxics.stream("downstream"), rng("downstream"), fast),
        }
        self._closed: asyncio.Future[None] | None = None

    def start(self) -> None:
        self._closed = asyncio.get_running_loop().create_future()
        for link in self.links.values():
            link.start()

    def link_finished(self, link: Link) -> None:
        self.proxy.record_link(link)
        if self.closing:
            return
        if self.linger:
            self.abort()
            return
        # Toxiproxy closes the destination fully (no half-close); shutting it down both ways
        # also ends the other link's read of the same socket.
        with contextlib.suppress(OSError):
            link.dst.shutdown(socket.SHUT_RDWR)
        self._finished += 1
        if self._finished >= 2:
            self.abort()

    def abort(self) -> None:
        """Close both sockets now (RST if linger is set) and stop both links."""
        if self.closing:
            return
        self.closing = True
        for link in self.links.values():
            link.abort()
        asyncio.get_running_loop().create_task(self._close())

    async def _close(self) -> None:
        current = asyncio.current_task()
        tasks = [link.task for link in self.links.values() if link.task is not None and link.task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for link in self.links.values():
            await link.wait_fast_exit(5.0)
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                sock.close()
        for link in self.links.values():
            link.close_fds()
        self.proxy.connections.discard(self)
        if self._closed is not None:
            _resolve(self._closed, None)

    async def wait_closed(self, timeout: float) -> None:
        if self._closed is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), timeout)
