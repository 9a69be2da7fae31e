"""Every route of Toxiproxy 2.12's API over raw HTTP: exact statuses, headers and bodies."""

from __future__ import annotations

import json
import re
import socket

import pytest
from tpkit import Api, Upstream

pytestmark = pytest.mark.timeout(60)

ERROR_TYPE = "text/plain; charset=utf-8"


def assert_error(res, status: int, message: str) -> None:
    assert res.status == status, (res.status, res.body)
    assert res.body == (json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n").encode(), res.body
    assert res.header("Content-Type") == ERROR_TYPE
    assert res.header("X-Content-Type-Options") == "nosniff"


def refuses(listen: str) -> bool:
    host, port = listen.rsplit(":", 1)
    try:
        socket.create_connection(("127.0.0.1" if host in ("[::]", "") else host, int(port)), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- general -------------------------------------------------------------------------------


def test_version_exact_body_and_headers(api: Api) -> None:
    res = api.get("/version", headers={"User-Agent": "curl/8.0"})
    assert res.status == 200
    assert res.body == b'{"version": "2.12.0"}\n'
    assert res.header("Content-Type") == "application/json;charset=utf-8"
    assert re.fullmatch(r"[0-9a-v]{20}", res.header("X-Toxiproxy-Request-Id") or "")


def test_request_ids_differ(api: Api) -> None:
    ids = {api.get("/version").header("X-Toxiproxy-Request-Id") for _ in range(5)}
    assert len(ids) == 5


def test_unknown_path_is_go_404_page(api: Api) -> None:
    for path in ("/nope", "/proxies/", "/proxies/x/toxics/", "/proxies/a/b", "/metrics"):
        res = api.get(path)
        assert res.status == 404, path
        assert res.body == b"404 page not found\n"
        assert res.header("Content-Type") == ERROR_TYPE
        assert res.header("X-Toxiproxy-Request-Id") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/reset"), ("PUT", "/proxies"), ("HEAD", "/version"), ("DELETE", "/proxies"),
     ("PUT", "/proxies/x"), ("DELETE", "/proxies/x/toxics"), ("PUT", "/proxies/x/toxics/y"),
     ("GET", "/populate")],
)
def test_wrong_method_is_empty_405(api: Api, method: str, path: str) -> None:
    res = api.request(method, path)
    assert res.status == 405
    assert res.body == b""
    assert res.header("X-Toxiproxy-Request-Id") is None


def test_browser_user_agent_gets_403(api: Api) -> None:
    res = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    assert res.status == 403
    assert res.body == b"User agent not allowed\n"
    assert api.get("/proxies", headers={"User-Agent": "Wget/2.1"}).status == 200
    # the prefix check is case-sensitive, as in Go
    assert api.get("/proxies", headers={"User-Agent": "mozilla/5.0"}).status == 200


def test_empty_proxy_list(api: Api) -> None:
    res = api.get("/proxies")
    assert (res.status, res.body, res.header("Content-Type")) == (200, b"{}", "application/json")


# --- proxies --------------------------------------------------------------------------------


def test_create_returns_201_with_bound_listen(api: Api, echo: Upstream) -> None:
    res = api.post("/proxies", {"name": "redis", "upstream": echo.address, "listen": "127.0.0.1:0"})
    assert res.status == 201
    assert res.header("Content-Type") == "application/json"
    body = res.json()
    assert list(body) == ["name", "listen", "upstream", "enabled", "Logger", "toxics"]
    assert body["listen"].startswith("127.0.0.1:") and not body["listen"].endswith(":0")
    assert body["upstream"] == echo.address and body["enabled"] is True and body["toxics"] == []
    assert res.body.startswith(b'{"name":"redis","listen":"127.0.0.1:')  # compact, Go key order
    assert not res.body.endswith(b"\n")


def test_localhost_listen_is_reported_resolved(api: Api, echo: Upstream) -> None:
    port = free_port()
    body = api.create_proxy("m", echo.address, listen=f"localhost:{port}")
    assert body["listen"] == f"127.0.0.1:{port}"


def test_create_without_listen_binds_all_interfaces(api: Api, echo: Upstream, connect) -> None:
    res = api.post("/proxies", {"name": "nolisten", "upstream": echo.address})
    assert res.status == 201
    listen = res.json()["listen"]
    assert re.fullmatch(r"(\[::\]|0\.0\.0\.0):\d+", listen), listen
    sock = connect(listen)
    sock.sendall(b"ping")
    assert sock.recv(10) == b"ping"


def test_create_validation_order(api: Api, echo: Upstream) -> None:
    assert_error(api.post("/proxies", {"upstream": echo.address}), 400, "missing required field: name")
    assert_error(api.post("/proxies", {"name": "x"}), 400, "missing required field: upstream")
    assert_error(api.post("/proxies", b""), 400, "bad request body: EOF")
    res = api.post("/proxies", b"{not json")
    assert res.status == 400 and res.json()["error"].startswith("bad request body: ")
    res = api.post("/proxies", {"name": 5, "upstream": "x:1"})
    assert res.status == 400 and "cannot unmarshal number into Go struct field Proxy.name of type string" in res.json()["error"]
    res = api.post("/proxies", {"name": "x", "upstream": "x:1", "enabled": "yes"})
    assert res.status == 400 and "of type bool" in res.json()["error"]
    res = api.post("/proxies", [1, 2])
    assert res.status == 400 and "cannot unmarshal array" in res.json()["error"]


def test_create_go_json_quirks(api: Api, echo: Upstream) -> None:
    # case-insensitive keys, trailing garbage after the first value, Content-Type ignored
    body = json.dumps({"NAME": "q", "Upstream": echo.address, "listen": "127.0.0.1:0"}) + " trailing"
    res = api.post("/proxies", body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert res.status == 201, res.body
    assert res.json()["name"] == "q"
    # null leaves the default (enabled true)
    res = api.post("/proxies", {"name": "n", "upstream": echo.address, "listen": "127.0.0.1:0", "enabled": None})
    assert res.status == 201 and res.json()["enabled"] is True


def test_duplicate_name_409_before_binding(api: Api, echo: Upstream) -> None:
    first = api.create_proxy("dup", echo.address)
    res = api.post("/proxies", {"name": "dup", "upstream": echo.address, "listen": first["listen"]})
    assert_error(res, 409, "proxy already exists")
    assert api.delete("/proxies/dup").status == 204
    assert api.post("/proxies", {"name": "dup", "upstream": echo.address, "listen": "127.0.0.1:0"}).status == 201


def test_bind_conflict_is_500_and_leaks_nothing(api: Api, echo: Upstream) -> None:
    port = free_port()
    api.create_proxy("one", echo.address, listen=f"localhost:{port}")
    res = api.post("/proxies", {"name": "two", "upstream": echo.address, "listen": f"localhost:{port}"})
    assert_error(res, 500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    assert "two" not in api.get("/proxies").json()
    assert api.delete("/proxies/one").status == 204
    assert api.post("/proxies", {"name": "two", "upstream": echo.address, "listen": f"localhost:{port}"}).status == 201


def test_unparsable_listen_is_500(api: Api, echo: Upstream) -> None:
    res = api.post("/proxies", {"name": "bad", "upstream": echo.address, "listen": "local373"})
    assert_error(res, 500, "listen tcp: address local373: missing port in address")


def test_create_disabled_keeps_raw_listen(api: Api, echo: Upstream) -> None:
    port = free_port()
    res = api.post("/proxies", {"name": "d", "upstream": echo.address, "listen": f"localhost:{port}", "enabled": False})
    assert res.status == 201
    assert res.json()["listen"] == f"localhost:{port}" and res.json()["enabled"] is False
    assert refuses(f"127.0.0.1:{port}")
    res = api.post("/proxies/d", {"enabled": True})
    assert res.status == 200 and res.json()["listen"] == f"127.0.0.1:{port}"
    assert not refuses(f"127.0.0.1:{port}")


def test_get_and_url_decoded_names(api: Api, echo: Upstream) -> None:
    api.create_proxy("a b", echo.address)
    res = api.get("/proxies/a%20b")
    assert res.status == 200 and res.json()["name"] == "a b"
    assert_error(api.get("/proxies/missing"), 404, "proxy not found")


def test_list_sorted_by_name(api: Api, echo: Upstream) -> None:
    for name in ("zeta", "alpha", "mid"):
        api.create_proxy(name, echo.address)
    assert list(api.get("/proxies").json()) == ["alpha", "mid", "zeta"]


def test_disable_enable_same_port(api: Api, echo: Upstream, connect) -> None:
    listen = api.create_proxy("p", echo.address)["listen"]
    sock = connect(listen)
    sock.sendall(b"x")
    assert sock.recv(1) == b"x"
    res = api.patch("/proxies/p", {"enabled": False})
    assert res.status == 200 and res.json()["enabled"] is False and res.json()["listen"] == listen
    sock.settimeout(5)
    assert sock.recv(10) == b""  # live connection closed
    assert refuses(listen)
    res = api.post("/proxies/p", {"enabled": True})
    assert res.json()["listen"] == listen and res.json()["enabled"] is True
    again = connect(listen)
    again.sendall(b"y")
    assert again.recv(1) == b"y"
    # same value: no-op
    assert api.post("/proxies/p", {"enabled": True}).status == 200


def test_update_same_listen_keeps_connection(api: Api, echo: Upstream, connect) -> None:
    listen = api.create_proxy("p", echo.address)["listen"]
    port = listen.rsplit(":", 1)[1]
    sock = connect(listen)
    res = api.post("/proxies/p", {"listen": f"localhost:{port}"})
    assert res.status == 200 and res.json()["listen"] == listen
    sock.sendall(b"still")
    assert sock.recv(10) == b"still"


def test_update_new_listen_rebinds_and_drops(api: Api, echo: Upstream, connect) -> None:
    listen = api.create_proxy("p", echo.address)["listen"]
    sock = connect(listen)
    res = api.patch("/proxies/p", {"listen": "localhost:0"})
    new = res.json()["listen"]
    assert res.status == 200 and new != listen and new != "localhost:0" and res.json()["enabled"]
    sock.settimeout(5)
    assert sock.recv(10) == b""
    s2 = connect(new)
    s2.sendall(b"z")
    assert s2.recv(1) == b"z"


def test_update_errors(api: Api, echo: Upstream) -> None:
    assert_error(api.patch("/proxies/none", {"enabled": False}), 404, "proxy not found")
    api.create_proxy("p", echo.address)
    assert_error(api.patch("/proxies/p", {"listen": "bad"}), 500, "address bad: missing port in address")
    assert_error(api.patch("/proxies/p", b""), 400, "bad request body: EOF")
    res = api.patch("/proxies/p", {"enabled": 1})
    assert res.status == 400


def test_update_rebind_failure_leaves_disabled(api: Api, echo: Upstream) -> None:
    taken = api.create_proxy("taken", echo.address)["listen"]
    api.create_proxy("p", echo.address)
    res = api.patch("/proxies/p", {"listen": taken})
    assert res.status == 500 and "address already in use" in res.json()["error"]
    body = api.get("/proxies/p").json()
    assert body["enabled"] is False and body["listen"] == taken


def test_delete(api: Api, echo: Upstream) -> None:
    listen = api.create_proxy("p", echo.address)["listen"]
    res = api.delete("/proxies/p")
    assert res.status == 204 and res.body == b"" and res.header("Content-Type") is None
    assert refuses(listen)
    assert_error(api.delete("/proxies/p"), 404, "proxy not found")
    assert api.get("/proxies").body == b"{}"


# --- populate ---------------------------------------------------------------------------------


def test_populate_creates_in_order(api: Api, echo: Upstream) -> None:
    p1, p2 = free_port(), free_port()
    res = api.post("/populate", [
        {"name": "one", "upstream": echo.address, "listen": f"localhost:{p1}"},
        {"name": "two", "upstream": echo.address, "listen": f"localhost:{p2}", "enabled": False},
    ])
    assert res.status == 201 and res.header("Content-Type") == "application/json"
    proxies = res.json()["proxies"]
    assert [p["name"] for p in proxies] == ["one", "two"]
    assert proxies[0]["listen"] == f"127.0.0.1:{p1}" and proxies[0]["enabled"]
    assert not proxies[1]["enabled"] and refuses(f"127.0.0.1:{p2}")


def test_populate_keep_or_replace(api: Api, echo: Upstream, make_upstream) -> None:
    other = make_upstream()
    p1, p2, p3 = free_port(), free_port(), free_port()
    api.post("/populate", [
        {"name": "one", "upstream": echo.address, "listen": f"localhost:{p1}"},
        {"name": "two", "upstream": echo.address, "listen": f"localhost:{p2}"},
    ])
    api.add_toxic("one", type="latency", attributes={"latency": 100})
    api.add_toxic("two", type="latency", attributes={"latency": 100})
    api.post("/proxies/one", {"enabled": False})
    res = api.post("/populate", [
        {"name": "one", "upstream": echo.address, "listen": f"localhost:{p1}", "enabled": True},
        {"name": "two", "upstream": other.address, "listen": f"localhost:{p3}"},
    ])
    assert res.status == 201
    one, two = res.json()["proxies"]
    # kept untouched: toxics and its (disabled) state stay; the entry's enabled is ignored
    assert one["listen"] == f"127.0.0.1:{p1}" and len(one["toxics"]) == 1 and one["enabled"] is False
    # replaced: new listen, new upstream, toxics gone
    assert two["listen"] == f"127.0.0.1:{p3}" and two["upstream"] == other.address and two["toxics"] == []
    assert refuses(f"127.0.0.1:{p2}")


def test_populate_empty_and_errors(api: Api, echo: Upstream) -> None:
    res = api.post("/populate", [])
    assert (res.status, res.body) == (201, b'{"proxies":null}')
    res = api.post("/populate", [{"name": "a", "upstream": echo.address}, {"upstream": echo.address}])
    assert res.status == 400 and res.header("Content-Type") == "application/json"
    assert res.json() == {"error": "missing required field: name at proxy 2", "status": 400, "proxies": None}
    assert api.get("/proxies").body == b"{}"
    res = api.post("/populate", {"name": "a"})
    assert res.status == 400 and res.json()["error"].startswith("bad request body: json: cannot unmarshal object")
    res = api.post("/populate", [{"name": "a", "upstream": 7}])
    assert res.status == 400


def test_populate_stops_at_first_failure(api: Api, echo: Upstream) -> None:
    res = api.post("/populate", [
        {"name": "one", "upstream": echo.address, "listen": "127.0.0.1:0"},
        {"name": "two", "upstream": echo.address, "listen": "local373"},
        {"name": "three", "upstream": echo.address, "listen": "127.0.0.1:0"},
    ])
    assert res.status == 500
    body = res.json()
    assert body["error"] == "listen tcp: address local373: missing port in address" and body["status"] == 500
    assert [p["name"] for p in body["proxies"]] == ["one"]
    assert list(api.get("/proxies").json()) == ["one"]


# --- toxics ---------------------------------------------------------------------------------


def test_toxic_create_defaults_and_shape(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    assert api.get("/proxies/p/toxics").body == b"[]"
    res = api.post("/proxies/p/toxics", {"type": "latency", "attributes": {"latency": 100, "jitter": 10}})
    assert res.status == 200
    assert res.body == (
        b'{"attributes":{"latency":100,"jitter":10},"name":"latency_downstream","type":"latency",'
        b'"stream":"downstream","toxicity":1}'
    )
    res = api.post("/proxies/p/toxics", {"type": "noop", "name": "n", "toxicity": 0.2, "stream": "UpStream"})
    assert res.json() == {"attributes": {}, "name": "n", "type": "noop", "stream": "UpStream", "toxicity": 0.2}
    # upstream first, then downstream, each in insertion order
    names = [t["name"] for t in api.get("/proxies/p/toxics").json()]
    assert names == ["n", "latency_downstream"]
    assert [t["name"] for t in api.get("/proxies/p").json()["toxics"]] == names


@pytest.mark.parametrize(
    ("kind", "attrs"),
    [("latency", {"latency": 0, "jitter": 0}), ("bandwidth", {"rate": 0}), ("slow_close", {"delay": 0}),
     ("timeout", {"timeout": 0}), ("reset_peer", {"timeout": 0}),
     ("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}), ("limit_data", {"bytes": 0}),
     ("noop", {})],
)
def test_every_type_reports_every_attribute(api: Api, echo: Upstream, kind: str, attrs: dict) -> None:
    api.create_proxy("p", echo.address)
    sent = {"average_size": 10} if kind == "slicer" else {}
    toxic = api.add_toxic("p", type=kind, attributes=sent)
    assert toxic["attributes"] == {**attrs, **sent}
    assert list(toxic["attributes"]) == list(attrs)


def test_toxic_validation(api: Api, echo: Upstream) -> None:
    assert_error(api.post("/proxies/none/toxics", {"type": "latency"}), 404, "proxy not found")
    api.create_proxy("p", echo.address)
    base = "/proxies/p/toxics"
    assert_error(api.post(base, {"type": "latency", "stream": "walrustream"}), 400,
                 "stream was invalid, can be either upstream or downstream")
    assert_error(api.post(base, {"type": "latency", "stream": ""}), 400,
                 "stream was invalid, can be either upstream or downstream")
    assert_error(api.post(base, {"type": "nope"}), 400, "invalid toxic type")
    assert_error(api.post(base, b""), 400, "bad request body: EOF")
    res = api.post(base, {"type": "latency", "toxicity": "high"})
    assert res.status == 400 and "of type float32" in res.json()["error"]
    res = api.post(base, {"type": "latency", "attributes": "x"})
    assert res.status == 400
    res = api.post(base, {"type": "latency", "attributes": {"latency": 1.5}})
    assert res.status == 400 and "cannot unmarshal number 1.5" in res.json()["error"]
    res = api.post(base, {"type": "latency", "attributes": {"latency": 100.0}})
    assert res.status == 400
    res = api.post(base, {"type": "latency", "attributes": {"latency": True}})
    assert res.status == 400
    assert_error(api.post(base, {"type": "bandwidth", "attributes": {"rate": -1}}), 400, "rate must not be negative")
    for bad in ({"average_size": 0}, {"average_size": -3}, {"average_size": 10, "size_variation": 11},
                {"average_size": 10, "size_variation": -1}):
        res = api.post(base, {"type": "slicer", "attributes": bad})
        assert res.status == 400, bad
    assert api.get(base).body == b"[]"  # nothing half-created
    # unknown attribute keys are ignored; out-of-range toxicity is stored as Go does
    toxic = api.add_toxic("p", type="latency", attributes={"latency": 5, "bogus": 1}, toxicity=1.7)
    assert toxic["attributes"] == {"latency": 5, "jitter": 0} and toxic["toxicity"] == 1.7


def test_toxic_name_conflicts(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    api.add_toxic("p", name="foobar", type="latency", stream="upstream")
    assert_error(api.post("/proxies/p/toxics", {"name": "foobar", "type": "noop", "stream": "downstream"}), 409,
                 "toxic already exists")
    api.add_toxic("p", type="latency", stream="upstream")
    api.add_toxic("p", type="latency", stream="downstream")
    names = [t["name"] for t in api.get("/proxies/p/toxics").json()]
    assert names == ["foobar", "latency_upstream", "latency_downstream"]


def test_toxic_get_update_delete(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    api.add_toxic("p", type="latency", attributes={"latency": 100, "jitter": 10})
    url = "/proxies/p/toxics/latency_downstream"
    assert api.get(url).json()["attributes"] == {"latency": 100, "jitter": 10}
    res = api.patch(url, {"attributes": {"latency": 1000}, "toxicity": 0.5})
    assert res.status == 200
    assert res.json()["attributes"] == {"latency": 1000, "jitter": 10} and res.json()["toxicity"] == 0.5
    res = api.post(url, {"attributes": {"latency": 500}, "name": "ignored", "type": "noop", "stream": "upstream"})
    assert res.json() == {"attributes": {"latency": 500, "jitter": 10}, "name": "latency_downstream",
                          "type": "latency", "stream": "downstream", "toxicity": 0.5}
    assert_error(api.patch(url, b""), 400, "bad request body: EOF")
    assert api.patch(url, {"attributes": {"latency": 2.5}}).status == 400
    assert_error(api.patch("/proxies/p/toxics/none", {"toxicity": 1}), 404, "toxic not found")
    assert_error(api.patch("/proxies/none/toxics/none", {"toxicity": 1}), 404, "proxy not found")
    assert_error(api.get("/proxies/p/toxics/none"), 404, "toxic not found")
    res = api.delete(url)
    assert res.status == 204 and res.body == b""
    assert_error(api.delete(url), 404, "toxic not found")
    assert api.get("/proxies/p/toxics").body == b"[]"


def test_slicer_update_rejects_crash_values(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    api.add_toxic("p", type="slicer", attributes={"average_size": 10, "size_variation": 5})
    res = api.patch("/proxies/p/toxics/slicer_downstream", {"attributes": {"size_variation": 50}})
    assert res.status == 400
    assert api.get("/proxies/p/toxics/slicer_downstream").json()["attributes"]["size_variation"] == 5


# --- reset and metrics ------------------------------------------------------------------------


def test_reset_enables_and_drops_toxics(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    listen = api.create_proxy("q", echo.address)["listen"]
    api.add_toxic("p", type="latency", attributes={"latency": 100, "jitter": 10})
    api.post("/proxies/q", {"enabled": False})
    assert api.get("/reset").status == 405
    res = api.post("/reset", b"ignored body")
    assert res.status == 204 and res.body == b""
    proxies = api.get("/proxies").json()
    assert proxies["p"]["toxics"] == [] and proxies["q"]["enabled"] is True and proxies["q"]["listen"] == listen
    assert not refuses(listen)


def test_metrics_enabled(make_upstream, connect) -> None:
    from harness.toxiproxy import EmbeddedToxiproxy

    echo = make_upstream()
    with EmbeddedToxiproxy(proxy_metrics=True) as tp:
        api = Api(tp.host, tp.port)
        listen = api.create_proxy("m", echo.address)["listen"]
        sock = connect(listen)
        sock.sendall(b"hello")
        assert sock.recv(5) == b"hello"
        sock.close()
        import time

        deadline = time.monotonic() + 5
        while True:
            res = api.get("/metrics")
            line = f'toxiproxy_proxy_received_bytes_total{{direction="upstream",listener="{listen}",proxy="m",upstream="{echo.address}"}} 5'
            if line.encode() in res.body or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert res.status == 200 and line.encode() in res.body, res.body
        assert b'toxiproxy_proxy_sent_bytes_total{direction="upstream"' in res.body
        assert api.request("DELETE", "/metrics").status == 200


def test_keep_alive_and_chunked_body(api: Api, echo: Upstream) -> None:
    import http.client

    conn = http.client.HTTPConnection(api.host, api.port, timeout=10)
    try:
        conn.request("GET", "/version")
        assert conn.getresponse().read() == b'{"version": "2.12.0"}\n'

        def chunks():
            yield json.dumps({"name": "c", "upstream": echo.address})[:-1].encode() + b","
            yield b'"listen":"127.0.0.1:0"}'

        conn.request("POST", "/proxies", body=chunks(), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        assert resp.status == 201, resp.read()
        resp.read()
    finally:
        conn.close()


def test_garbage_request_gets_400_not_a_hang(api: Api) -> None:
    with socket.create_connection((api.host, api.port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        data = sock.recv(1000)
        assert data.startswith(b"HTTP/1.1 400 ")


def test_expect_100_continue_is_answered(api: Api, echo: Upstream) -> None:
    body = json.dumps({"name": "big", "upstream": echo.address, "listen": "127.0.0.1:0", "pad": "x" * 5000}).encode()
    with socket.create_connection((api.host, api.port), timeout=5) as sock:
        sock.sendall(b"POST /proxies HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        reply = b""
        while b'"toxics":[]}' not in reply:
            chunk = sock.recv(4096)
            assert chunk, reply
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 201 Created\r\n")


def test_update_cannot_rename_or_set_toxics(api: Api, echo: Upstream) -> None:
    api.create_proxy("p", echo.address)
    res = api.post("/proxies/p", {"name": "other", "toxics": [{"type": "latency"}]})
    assert res.status == 200 and res.json()["name"] == "p" and res.json()["toxics"] == []
    assert list(api.get("/proxies").json()) == ["p"]


def test_enable_a_proxy_created_without_listen(api: Api, echo: Upstream, connect) -> None:
    res = api.post("/proxies", {"name": "later", "upstream": echo.address, "enabled": False})
    assert res.status == 201 and res.json()["listen"] == ""
    res = api.patch("/proxies/later", {"enabled": True})
    assert res.status == 200, res.body
    sock = connect(res.json()["listen"])
    sock.sendall(b"ok")
    assert sock.recv(2) == b"ok"
