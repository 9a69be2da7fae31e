"""A proxy: its listener, its toxics and its live connections.

Every change to a proxy's toxics is applied synchronously to the links of every live
connection (no awaiting a stuck link), so an API call never hangs on a connection that does
not drain — Toxiproxy's 25 s "Timeout" 503 cannot happen here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from harness.toxiproxy.link import Connection, Link
from harness.toxiproxy.netaddr import AddressError, bind_listener, dial
from harness.toxiproxy.toxics import Toxic

if TYPE_CHECKING:
    from harness.toxiproxy.server import ToxiproxyServer

log = logging.getLogger("harness.toxiproxy")

DIAL_TIMEOUT = 30.0


class ToxicCollection:
    def __init__(self) -> None:
        self._by_name: dict[str, Toxic] = {}

    def get(self, name: str) -> Toxic | None:
        return self._by_name.get(name)

    def stream(self, stream: str) -> list[Toxic]:
        return [t for t in self._by_name.values() if t.stream == stream]

    def all(self) -> list[Toxic]:
        """Upstream toxics in insertion order, then downstream ones (Toxiproxy's list order)."""
        return self.stream("upstream") + self.stream("downstream")

    def add(self, toxic: Toxic) -> None:
        self._by_name[toxic.name] = toxic

    def pop(self, name: str) -> Toxic | None:
        return self._by_name.pop(name, None)


class Proxy:
    def __init__(self, server: ToxiproxyServer, name: str, listen: str, upstream: str) -> None:
        self.server = server
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.enabled = False
        self.toxics = ToxicCollection()
        self.connections: set[Connection] = set()
        self._listener: socket.socket | None = None
        self._accept_task: asyncio.Task[None] | None = None
        self._accepted = 0
        self._pending: set[asyncio.Task[None]] = set()
        # metrics: (direction, listener, upstream) -> [received, sent]
        self.counters: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [t.to_json() for t in self.toxics.all()],
        }

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind `listen` (raises AddressError with Go's text) and start accepting."""
        if self._listener is not None:
            raise AddressError(f"Proxy {self.name} is already started")
        sock, bound = await bind_listener(self.listen)
        self._listener = sock
        self.listen = bound  # re-enabling later binds this same port
        self.enabled = True
        self._accept_task = asyncio.get_running_loop().create_task(self._accept_loop(sock))

    async def stop(self) -> None:
        """Close the listener and every live connection; toxics stay."""
        self.enabled = False
        task, sock = self._accept_task, self._listener
        self._accept_task = self._listener = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if sock is not None:
            sock.close()
        for pending in list(self._pending):
            pending.cancel()
        conns = list(self.connections)
        for conn in conns:
            conn.abort()
        for conn in conns:
            await conn.wait_closed(5.0)

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _addr = await loop.sock_accept(listener)
            except asyncio.CancelledError:
                raise
            except OSError as exc:  # e.g. EMFILE: keep serving rather than die
                log.warning("proxy %s: accept failed: %s", self.name, exc)
                await asyncio.sleep(0.05)
                continue
            client.setblocking(False)
            with contextlib.suppress(OSError):
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            index = self._accepted
            self._accepted += 1
            task = loop.create_task(self._connect(client, index))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connect(self, client: socket.socket, index: int) -> None:
        """Dial the upstream for one accepted client; on failure the client just sees EOF."""
        try:
            server = await dial(self.upstream, DIAL_TIMEOUT)
        except (TimeoutError, OSError, AddressError, ValueError) as exc:
            log.info("proxy %s: upstream %s unavailable: %s", self.name, self.upstream, exc)
            client.close()
            return
        except asyncio.CancelledError:
            client.close()
            raise
        if not self.enabled:
            client.close()
            server.close()
            return
        conn = Connection(self, client, server, index)
        self.connections.add(conn)
        conn.start()

    # --- toxics -------------------------------------------------------------------------
    def _links(self, stream: str) -> list[Link]:
        return [c.links[stream] for c in self.connections if not c.closing]

    def add_toxic(self, toxic: Toxic) -> None:
        self.toxics.add(toxic)
        for link in self._links(toxic.stream):
            link.add_toxic(toxic)

    def update_toxic(self, toxic: Toxic) -> None:
        for link in self._links(toxic.stream):
            link.update_toxic(toxic)

    def remove_toxic(self, name: str) -> bool:
        toxic = self.toxics.pop(name)
        if toxic is None:
            return False
        for link in self._links(toxic.stream):
            link.remove_toxic(toxic)
        return True

    def remove_all_toxics(self) -> None:
        for toxic in self.toxics.all():
            self.remove_toxic(toxic.name)

    def record_link(self, link: Link) -> None:
        counts = self.counters[(link.direction, self.listen, self.upstream)]
        counts[0] += link.received
        if link.write_ok:
            counts[1] += link.sent
