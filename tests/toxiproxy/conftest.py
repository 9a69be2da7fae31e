"""Fixtures for the embedded Toxiproxy tests: a server per test, upstream servers, clients.

Everything binds 127.0.0.1 port 0 and is torn down in finalizers, also when a test fails.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from tpkit import Api, Upstream

from harness.toxiproxy import EmbeddedToxiproxy


@pytest.fixture
def toxiproxy() -> Iterator[EmbeddedToxiproxy]:
    server = EmbeddedToxiproxy(seed=1234).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(toxiproxy: EmbeddedToxiproxy) -> Api:
    return Api(toxiproxy.host, toxiproxy.port)


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., Upstream]]:
    made: list[Upstream] = []

    def make(mode: str = "echo") -> Upstream:
        up = Upstream(mode)
        made.append(up)
        return up

    yield make
    for up in made:
        up.close()


@pytest.fixture
def echo(make_upstream: Callable[..., Upstream]) -> Upstream:
    return make_upstream("echo")


@pytest.fixture
def connect() -> Iterator[Callable[[str], socket.socket]]:
    """Open client sockets to a proxy's `listen` address; all are closed after the test."""
    socks: list[socket.socket] = []

    def open_(listen: str, timeout: float = 10) -> socket.socket:
        host, port = listen.rsplit(":", 1)
        host = host.strip("[]")
        if host in ("::", "0.0.0.0", ""):
            host = "127.0.0.1"
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(sock)
        return sock

    yield open_
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass


