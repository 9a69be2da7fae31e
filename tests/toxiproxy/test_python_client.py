"""The API driven through toxiproxy-python 0.1.1, unchanged, as its own test suite does."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from tpkit import Upstream

from harness.toxiproxy import EmbeddedToxiproxy

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(toxiproxy: EmbeddedToxiproxy) -> Iterator[Toxiproxy]:
    # APIConsumer keeps host/port on the class; restore them so other tests are unaffected.
    saved = (APIConsumer.host, APIConsumer.port)
    tp = Toxiproxy()
    tp.update_api_consumer(toxiproxy.host, toxiproxy.port)
    try:
        yield tp
    finally:
        APIConsumer.host, APIConsumer.port = saved


def accepts(listen: str) -> bool:
    host, port = listen.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except ConnectionRefusedError:
        return False


def test_running_and_version(client: Toxiproxy) -> None:
    assert client.running()
    assert client.version() == b'{"version": "2.12.0"}\n'


def test_create_list_get_destroy(client: Toxiproxy, echo: Upstream) -> None:
    proxy = client.create(upstream=echo.address, name="redis")
    assert proxy.name == "redis" and proxy.upstream == echo.address and proxy.enabled
    assert accepts(proxy.listen)
    assert set(client.proxies()) == {"redis"}
    assert client.get_proxy("redis").listen == proxy.listen
    assert client.get_proxy("missing") is None
    assert client.destroy(proxy)
    assert client.proxies() == {}
    assert not accepts(proxy.listen)


def test_create_disabled_echoes_listen(client: Toxiproxy, echo: Upstream) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proxy = client.create(upstream=echo.address, name="off", listen=f"127.0.0.1:{port}", enabled=False)
    assert proxy.listen == f"127.0.0.1:{port}" and proxy.enabled is False
    assert not accepts(proxy.listen)


def test_duplicate_raises_proxy_exists(client: Toxiproxy, echo: Upstream) -> None:
    client.create(upstream=echo.address, name="dup")
    with pytest.raises(ProxyExists):
        client.create(upstream=echo.address, name="dup")
    # the server's own 409 (bypassing the client's pre-check)
    with pytest.raises(ProxyExists):
        APIConsumer.post("/proxies", json={"name": "dup", "upstream": echo.address})


def test_unknown_url_raises_not_found(client: Toxiproxy) -> None:
    with pytest.raises(NotFound) as info:
        APIConsumer.get("/nothing-here")
    assert info.value.args[0] == b"404 page not found\n"


def test_disable_enable_and_down(client: Toxiproxy, echo: Upstream) -> None:
    proxy = client.create(upstream=echo.address, name="p")
    listen = proxy.listen
    proxy.disable()
    assert not accepts(listen) and client.get_proxy("p").enabled is False
    proxy.enable()
    assert accepts(listen) and client.get_proxy("p").listen == listen
    with proxy.down():
        assert not accepts(listen)
    assert accepts(listen)


def test_toxics_add_list_destroy(client: Toxiproxy, echo: Upstream) -> None:
    proxy = client.create(upstream=echo.address, name="p")
    proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 10})
    proxy.add_toxic(type="latency", name="second", attributes={"latency": 5})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "second"}
    toxic = proxy.get_toxic("latency_downstream")
    assert toxic.type == "latency" and toxic.stream == "downstream" and toxic.toxicity == 1
    assert toxic.attributes == {"latency": 100, "jitter": 10}
    assert proxy.destroy_toxic("second")
    assert set(proxy.toxics()) == {"latency_downstream"}
    assert client.get_proxy("p").listen == proxy.listen


def test_invalid_stream_raises_invalid_toxic(client: Toxiproxy, echo: Upstream) -> None:
    proxy = client.create(upstream=echo.address, name="p")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", stream="walrustream")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="bandwidth", attributes={"rate": -5})


def test_reset_reenables_and_clears(client: Toxiproxy, echo: Upstream) -> None:
    proxy = client.create(upstream=echo.address, name="p")
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    proxy.disable()
    assert client.reset()
    again = client.get_proxy("p")
    assert again.enabled and again.listen == proxy.listen and again.toxics() == {}
    assert accepts(proxy.listen)


def test_populate_via_client(client: Toxiproxy, echo: Upstream) -> None:
    created = client.populate([
        {"name": "a", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "b", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ])
    assert [p.name for p in created] == ["a", "b"]
    client.destroy_all()
    assert client.proxies() == {}
