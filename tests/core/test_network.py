"""Edges over a real Toxiproxy (the embedded server, in-process and as a child process).

The harness only talks to Toxiproxy through toxiproxy-python, so these tests also prove the
same code drives any Toxiproxy given by URL.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from harness.network import Network, NetworkError
from harness.recorder import TestRecorder, set_current
from harness.toxiproxy import EmbeddedToxiproxy, ToxiproxyProcess


@pytest.fixture(scope="module", params=["in-process", "child-process"])
def toxiproxy_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server = EmbeddedToxiproxy() if request.param == "in-process" else ToxiproxyProcess()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A loopback echo server standing in for a master."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def _echo(conn: socket.socket) -> None:
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)


def _round_trip(port: int, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the echo came back"
            received += chunk
    assert received == payload
    return time.monotonic() - start


@pytest.fixture
def recorder() -> Iterator[TestRecorder]:
    rec = TestRecorder("network-test")
    set_current(rec)
    yield rec
    set_current(None)


def test_edge_proxies_and_is_removed(toxiproxy_url: str, echo_port: int, recorder: TestRecorder) -> None:
    network = Network(toxiproxy_url)
    edge = network.edge("r1", "m", "127.0.0.1", echo_port)
    assert edge.name == "r1->m" and edge.upstream == f"127.0.0.1:{echo_port}"
    assert edge.listen_port > 0
    _round_trip(edge.listen_port)
    assert network.edge("r1", "m", "127.0.0.1", echo_port) is edge  # same link, same proxy
    network.remove_all()
    with pytest.raises(OSError):
        _round_trip(edge.listen_port)


def test_latency_window_is_applied_and_recorded(toxiproxy_url: str, echo_port: int, recorder: TestRecorder) -> None:
    network = Network(toxiproxy_url)
    edge = network.edge("r1", "m", "127.0.0.1", echo_port)
    try:
        baseline = _round_trip(edge.listen_port)
        with edge.latency(200, stream="downstream"):
            slowed = _round_trip(edge.listen_port)
        after = _round_trip(edge.listen_port)
        assert edge.toxics() == []  # the window's toxic is gone
    finally:
        network.remove_all()
    assert slowed >= 0.19 and baseline < 0.15 and after < 0.15
    window = [e for e in recorder.events if e.kind == "fault"][0]
    assert (window.name, window.target, window.detail["latency"]) == ("latency", "r1->m", 200)
    assert window.end is not None and window.end - window.start >= 0.19


def test_cut_drops_live_connections_and_heals(toxiproxy_url: str, echo_port: int, recorder: TestRecorder) -> None:
    network = Network(toxiproxy_url)
    edge = network.edge("r1", "m", "127.0.0.1", echo_port)
    try:
        live = socket.create_connection(("127.0.0.1", edge.listen_port), timeout=5)
        live.sendall(b"x")
        assert live.recv(1) == b"x"
        with edge.cut():
            assert live.recv(1) == b""  # the proxy closed the live connection
            with pytest.raises(OSError):
                _round_trip(edge.listen_port)
        _round_trip(edge.listen_port)
        live.close()
    finally:
        network.remove_all()


def test_cut_after_limits_bytes(toxiproxy_url: str, echo_port: int, recorder: TestRecorder) -> None:
    network = Network(toxiproxy_url)
    edge = network.edge("r1", "m", "127.0.0.1", echo_port)
    try:
        with edge.cut_after(1000, stream="downstream"):
            with socket.create_connection(("127.0.0.1", edge.listen_port), timeout=5) as sock:
                sock.sendall(b"a" * 5000)
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
        assert len(received) == 1000
    finally:
        network.remove_all()


def test_bad_toxic_is_a_clear_error(toxiproxy_url: str, echo_port: int, recorder: TestRecorder) -> None:
    network = Network(toxiproxy_url)
    edge = network.edge("r1", "m", "127.0.0.1", echo_port)
    try:
        with pytest.raises(NetworkError, match="stream must be"):
            edge.add_toxic("latency", {"latency": 1}, stream="sideways")
        with pytest.raises(NetworkError, match="Toxiproxy refused"):
            edge.add_toxic("no_such_toxic", {})
    finally:
        network.remove_all()


def test_unreachable_toxiproxy_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError, match="no Toxiproxy answers"):
        Network(f"http://127.0.0.1:{port}").version()
