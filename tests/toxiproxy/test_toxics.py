"""Each toxic's observable effect on real connections through the embedded server.

Lower bounds are tight enough to catch a missing or changed toxic (a 300 ms latency must add
at least 280 ms); upper bounds are loose because the machine running these is shared.
"""

from __future__ import annotations

import socket
import time

import pytest
from tpkit import Api, Upstream, recv_exactly, recv_until_eof

from harness.toxiproxy import EmbeddedToxiproxy


@pytest.fixture(params=["splice", "chain"])
def toxiproxy(request: pytest.FixtureRequest):
    """Run every test here on both relay paths: zero-copy splice and the pure asyncio chain
    (the fallback where os.splice is unavailable)."""
    server = EmbeddedToxiproxy(seed=1234, fast_path=request.param == "splice").start()
    try:
        yield server
    finally:
        server.stop()


pytestmark = pytest.mark.timeout(60)


def rtt(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    recv_exactly(sock, len(payload))
    return time.monotonic() - start


@pytest.fixture
def proxy(api: Api, echo: Upstream) -> str:
    """An echo proxy; returns its listen address."""
    return api.create_proxy("echo", echo.address)["listen"]


# --- plain proxying -------------------------------------------------------------------------


def test_bytes_pass_exactly(proxy: str, connect) -> None:
    sock = connect(proxy)
    sock.sendall(b"hello world")
    assert recv_exactly(sock, 11) == b"hello world"
    big = bytes(range(256)) * 256 + b"tail"
    sock.sendall(big)
    assert recv_exactly(sock, len(big)) == big
    sock.sendall(b"ab")
    sock.sendall(b"cd")
    assert recv_exactly(sock, 4) == b"abcd"


def test_upstream_down_gives_eof(api: Api, connect) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"  # bound but not listening: refused
    listen = api.create_proxy("dead", dead)["listen"]
    sock = connect(listen)
    start = time.monotonic()
    assert recv_until_eof(sock, timeout=5) == b""
    assert time.monotonic() - start < 2


def test_client_close_reaches_server(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    client = connect(listen)
    server = up.accept()
    client.sendall(b"bye")
    client.close()
    assert recv_until_eof(server) == b"bye"


# --- latency --------------------------------------------------------------------------------


def test_latency_downstream_adds_delay(api: Api, proxy: str, connect) -> None:
    sock = connect(proxy)
    baseline = min(rtt(sock) for _ in range(3))
    assert baseline < 0.2
    api.add_toxic("echo", type="latency", attributes={"latency": 300})
    delayed = rtt(sock)  # the toxic applies to the already open connection
    assert 0.28 <= delayed < 2.0
    fresh = connect(proxy)
    assert 0.28 <= rtt(fresh) < 2.0


def test_latency_upstream_seen_by_server(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="latency", stream="upstream", attributes={"latency": 300})
    client = connect(listen)
    server = up.accept()
    start = time.monotonic()
    client.sendall(b"x" * 1000)
    assert recv_exactly(server, 1000) == b"x" * 1000
    assert 0.28 <= time.monotonic() - start < 2.0
    start = time.monotonic()
    server.sendall(b"back")  # downstream has no toxic
    assert recv_exactly(client, 4) == b"back"
    assert time.monotonic() - start < 0.25


def test_chained_latency_adds_up(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", name="l1", type="latency", attributes={"latency": 150})
    api.add_toxic("echo", name="l2", type="latency", attributes={"latency": 150})
    assert 0.29 <= rtt(connect(proxy)) < 2.0


def test_latency_measured_from_read_time(api: Api, make_upstream, connect) -> None:
    """Two chunks sent 100 ms apart arrive ~300 and ~400 ms after the first (no stacking)."""
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="latency", stream="upstream", attributes={"latency": 300})
    client = connect(listen)
    server = up.accept()
    start = time.monotonic()
    client.sendall(b"a")
    time.sleep(0.1)
    client.sendall(b"b")
    assert recv_exactly(server, 1) == b"a"
    first = time.monotonic() - start
    assert recv_exactly(server, 1) == b"b"
    second = time.monotonic() - start
    assert 0.28 <= first < 1.5
    assert 0.38 <= second < first + 0.5  # not 300 ms after the first one's release


def test_jitter_stays_within_bounds(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="latency", attributes={"latency": 200, "jitter": 100})
    sock = connect(proxy)
    samples = [rtt(sock) for _ in range(5)]
    assert all(0.095 <= s < 2.0 for s in samples), samples


def test_removing_latency_releases_in_flight_data(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="latency", attributes={"latency": 5000})
    sock = connect(proxy)
    sock.sendall(b"held")
    time.sleep(0.2)  # let the chunk reach the latency stage
    start = time.monotonic()
    assert api.delete("/proxies/echo/toxics/latency_downstream").status == 204
    assert recv_exactly(sock, 4) == b"held"
    assert time.monotonic() - start < 1.0


# --- bandwidth ------------------------------------------------------------------------------


def test_bandwidth_limits_rate(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="bandwidth", stream="upstream", attributes={"rate": 100})  # 100 KB/s
    client = connect(listen)
    server = up.accept()
    payload = bytes(range(250)) * 200  # 50 000 bytes → 0.5 s
    start = time.monotonic()
    client.sendall(payload)
    client.close()  # queued data must still all arrive
    assert recv_until_eof(server, timeout=10) == payload
    assert 0.45 <= time.monotonic() - start < 3.0


def test_bandwidth_rate_zero_holds_until_removed(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="bandwidth", attributes={"rate": 0})
    sock = connect(proxy)
    sock.sendall(b"stalled")
    sock.settimeout(0.4)
    with pytest.raises(TimeoutError):
        sock.recv(10)
    api.delete("/proxies/echo/toxics/bandwidth_downstream")
    assert recv_exactly(sock, 7) == b"stalled"


# --- limit_data -----------------------------------------------------------------------------


def test_limit_data_cuts_exact_byte_count(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="limit_data", stream="upstream", attributes={"bytes": 10})
    client = connect(listen)
    server = up.accept()
    client.sendall(b"123456")
    assert recv_exactly(server, 6) == b"123456"
    client.sendall(b"7890abcdef")
    assert recv_until_eof(server) == b"7890"
    assert recv_until_eof(client) == b""  # both sides closed


def test_limit_data_zero_closes_on_first_chunk(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="limit_data", stream="upstream", attributes={"bytes": 0})
    client = connect(listen)
    server = up.accept()
    server.settimeout(0.3)
    with pytest.raises(TimeoutError):  # nothing closes before data arrives
        server.recv(1)
    client.sendall(b"dropped")
    assert recv_until_eof(server) == b""


def test_limit_data_count_survives_update(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="limit_data", stream="upstream", attributes={"bytes": 10})
    client = connect(listen)
    server = up.accept()
    client.sendall(b"12345678")
    assert recv_exactly(server, 8) == b"12345678"
    api.patch("/proxies/p/toxics/limit_data_upstream", {"attributes": {"bytes": 12}})
    client.sendall(b"abcdefgh")
    assert recv_until_eof(server) == b"abcd"


# --- reset_peer and timeout -----------------------------------------------------------------


def test_reset_peer_sends_rst(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="reset_peer", stream="upstream", attributes={"timeout": 0})
    sock = connect(proxy)
    sock.sendall(b"trigger")
    sock.settimeout(5)
    with pytest.raises(ConnectionResetError):
        sock.recv(10)


def test_reset_peer_after_timeout(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="reset_peer", attributes={"timeout": 300})  # downstream
    sock = connect(proxy)
    start = time.monotonic()
    sock.sendall(b"x")
    sock.settimeout(5)
    with pytest.raises(ConnectionResetError):
        while sock.recv(10):  # the echo itself is swallowed by the toxic
            pass
    assert 0.28 <= time.monotonic() - start < 3.0


def test_reset_peer_added_to_open_connection_is_plain_fin(api: Api, proxy: str, connect) -> None:
    sock = connect(proxy)
    assert rtt(sock) < 1
    api.add_toxic("echo", type="reset_peer", stream="upstream", attributes={"timeout": 0})
    sock.sendall(b"x")
    assert recv_until_eof(sock) == b""  # EOF, not ECONNRESET: linger was not set at connect


def test_reset_peer_linger_applies_even_at_toxicity_zero(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="reset_peer", attributes={"timeout": 0}, toxicity=0)
    sock = connect(proxy)
    assert rtt(sock) < 1  # the toxic itself never runs
    api.post("/proxies/echo", {"enabled": False})
    sock.settimeout(5)
    with pytest.raises(ConnectionResetError):
        sock.recv(10)


def test_timeout_zero_black_holes_then_removal_closes(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="timeout", stream="upstream", attributes={"timeout": 0})
    client = connect(listen)
    server = up.accept()
    client.sendall(b"lost")
    server.settimeout(0.5)
    with pytest.raises(TimeoutError):
        server.recv(10)
    server.sendall(b"other way works")  # the other direction is unaffected
    assert recv_exactly(client, 15) == b"other way works"
    api.delete("/proxies/p/toxics/timeout_upstream")
    assert recv_until_eof(server, timeout=2) == b""
    assert recv_until_eof(client, timeout=2) == b""


def test_timeout_closes_after_idle_period(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="timeout", attributes={"timeout": 300})
    sock = connect(proxy)
    start = time.monotonic()
    sock.sendall(b"swallowed")
    assert recv_until_eof(sock, timeout=5) == b""
    assert 0.28 <= time.monotonic() - start < 3.0


def test_toxicity_zero_and_one(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="timeout", attributes={"timeout": 0}, toxicity=0)
    sock = connect(proxy)
    assert rtt(sock) < 1  # toxicity 0: never applies
    api.patch("/proxies/echo/toxics/timeout_downstream", {"toxicity": 1})
    sock.sendall(b"gone")
    sock.settimeout(0.4)
    with pytest.raises(TimeoutError):  # toxicity 1 on the same connection: swallowed
        sock.recv(10)


# --- slicer and slow_close ------------------------------------------------------------------


def test_slicer_piece_sizes(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="slicer", stream="upstream",
                  attributes={"average_size": 10, "size_variation": 0, "delay": 30000})
    client = connect(listen)
    server = up.accept()
    payload = bytes(range(100))
    start = time.monotonic()
    client.sendall(payload)
    pieces = []
    while sum(map(len, pieces)) < 100:
        pieces.append(server.recv(100))
        assert pieces[-1], "EOF before all pieces arrived"
    elapsed = time.monotonic() - start
    assert b"".join(pieces) == payload
    assert all(len(p) <= 10 for p in pieces), [len(p) for p in pieces]  # 16 pieces of 6 or 7 bytes
    assert len(pieces) >= 12
    assert elapsed >= 0.4  # 16 pieces, 30 ms apart


def test_slicer_reassembles_large_data(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="slicer", attributes={"average_size": 1024, "size_variation": 512, "delay": 10})
    sock = connect(proxy)
    payload = bytes(range(256)) * 1875  # 480 000 bytes
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload), timeout=20) == payload


def test_slow_close_delays_fin(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    api.add_toxic("p", type="slow_close", attributes={"delay": 500})
    client = connect(listen)
    server = up.accept()
    server.sendall(b"last words")
    assert recv_exactly(client, 10) == b"last words"
    start = time.monotonic()
    server.close()
    assert recv_until_eof(client, timeout=5) == b""
    assert 0.45 <= time.monotonic() - start < 3.0


def test_close_without_slow_close_is_prompt(api: Api, make_upstream, connect) -> None:
    up = make_upstream("hold")
    listen = api.create_proxy("p", up.address)["listen"]
    client = connect(listen)
    server = up.accept()
    start = time.monotonic()
    server.close()
    assert recv_until_eof(client, timeout=5) == b""
    assert time.monotonic() - start < 0.4  # slow_close 500 ms must be clearly slower


def test_latency_both_streams_adds_both(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="latency", stream="upstream", attributes={"latency": 100})
    api.add_toxic("echo", type="latency", stream="downstream", attributes={"latency": 100})
    sock = connect(proxy)
    message = b"m" * (32 * 1024 + 12)
    start = time.monotonic()
    sock.sendall(message)
    assert recv_exactly(sock, len(message)) == message
    assert 0.19 <= time.monotonic() - start < 2.0


def test_timeout_updated_from_toxicity_zero_closes_quickly(api: Api, proxy: str, connect) -> None:
    api.add_toxic("echo", type="timeout", attributes={"timeout": 0}, toxicity=0)
    sock = connect(proxy)
    assert rtt(sock, b"1") < 1
    api.patch("/proxies/echo/toxics/timeout_downstream", {"toxicity": 1, "attributes": {"timeout": 100}})
    start = time.monotonic()
    sock.sendall(b"2")
    assert recv_until_eof(sock, timeout=5) == b""
    assert time.monotonic() - start < 1.0
