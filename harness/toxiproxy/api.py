"""Toxiproxy 2.12's HTTP API: routes, status codes, JSON shapes and error bodies.

Everything a client can observe is shaped here to match the Go server byte for byte where
clients or tests look (status codes, `{"error","status"}` bodies with their text/plain type,
key order, `toxics: []`), because several clients reject anything else.
"""

from __future__ import annotations

import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from harness.toxiproxy import gojson
from harness.toxiproxy.gojson import MISSING, BodyError
from harness.toxiproxy.httpserver import Request, Response
from harness.toxiproxy.netaddr import AddressError, resolve_listen
from harness.toxiproxy.proxy import Proxy
from harness.toxiproxy.toxics import TOXIC_TYPES, Toxic, check_attributes

if TYPE_CHECKING:
    from harness.toxiproxy.server import ToxiproxyServer

VERSION = "2.12.0"

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- responses ------------------------------------------------------------------------------


def json_response(status: int, value: Any) -> Response:
    return Response(status, gojson.dumps(value).encode(), [("Content-Type", JSON)])


def error_response(status: int, message: str) -> Response:
    body = gojson.dumps({"error": message, "status": status}) + "\n"
    return Response(status, body.encode(), [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")])


def not_found_page() -> Response:
    return Response(404, b"404 page not found\n", [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")])


_XID_ALPHABET = "0123456789abcdefghijklmnopqrstuv"
_xid_lock = threading.Lock()
_xid_counter = random.randrange(1 << 24)
_xid_machine = os.urandom(3)


def request_id() -> str:
    """A 20-character id in the xid format Toxiproxy uses (time, machine, pid, counter)."""
    global _xid_counter
    with _xid_lock:
        _xid_counter = (_xid_counter + 1) & 0xFFFFFF
        counter = _xid_counter
    raw = (
        int(time.time()).to_bytes(4, "big") + _xid_machine + (os.getpid() & 0xFFFF).to_bytes(2, "big")
        + counter.to_bytes(3, "big")
    )
    number = int.from_bytes(raw, "big") << 4  # 96 bits → 100 bits = 20 base32 digits
    return "".join(_XID_ALPHABET[(number >> (5 * i)) & 31] for i in range(19, -1, -1))


# --- body decoding --------------------------------------------------------------------------


def _decode_object(body: bytes, go_type: str) -> dict[str, Any]:
    value = gojson.decode_first_value(body)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BodyError(f"json: cannot unmarshal {gojson.go_type_name(value)} into Go value of type {go_type}")
    return value


def _bad_body(exc: BodyError) -> ApiError:
    return ApiError(400, f"bad request body: {exc}")


class ProxyFields:
    def __init__(self, obj: dict[str, Any]) -> None:
        self.name = gojson.as_string(obj, "name", "Proxy")
        self.listen = gojson.as_string(obj, "listen", "Proxy")
        self.upstream = gojson.as_string(obj, "upstream", "Proxy")
        self.enabled = gojson.as_bool(obj, "enabled", "Proxy")


def _text(value: Any) -> str:
    return "" if value is MISSING else str(value)


# --- the API --------------------------------------------------------------------------------


class Api:
    def __init__(self, server: ToxiproxyServer) -> None:
        self.server = server

    async def handle(self, req: Request) -> Response:
        path = unquote(urlsplit(req.target).path)
        route = self._route(path)
        if route is None:
            return not_found_page()
        methods, handler, args = route
        if req.method not in methods:
            return Response(405, b"", [("Content-Length", "0")])
        if req.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response(403, b"User agent not allowed\n", [("Content-Type", TEXT), ("X-Content-Type-Options", "nosniff")])
        try:
            async with self.server.lock:
                resp = await handler(req, *args)
        except ApiError as exc:
            resp = error_response(exc.status, exc.message)
        resp.headers.append(("X-Toxiproxy-Request-Id", request_id()))
        return resp

    def _route(self, path: str) -> tuple[tuple[str, ...], Any, tuple[str, ...]] | None:
        if path == "/version":
            return ("GET",), self.version, ()
        if path == "/proxies":
            return ("GET", "POST"), self.proxies, ()
        if path == "/populate":
            return ("POST",), self.populate, ()
        if path == "/reset":
            return ("POST",), self.reset, ()
        if path == "/metrics":
            if not self.server.proxy_metrics:
                return None
            return ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"), self.metrics, ()
        parts = path.split("/")
        if len(parts) >= 3 and parts[0] == "" and parts[1] == "proxies" and all(parts[2:]):
            if len(parts) == 3:
                return ("GET", "POST", "PATCH", "DELETE"), self.proxy, (parts[2],)
            if len(parts) == 4 and parts[3] == "toxics":
                return ("GET", "POST"), self.toxics, (parts[2],)
            if len(parts) == 5 and parts[3] == "toxics":
                return ("GET", "POST", "PATCH", "DELETE"), self.toxic, (parts[2], parts[4])
        return None

    def _proxy(self, name: str) -> Proxy:
        proxy = self.server.proxies.get(name)
        if proxy is None:
            raise ApiError(404, "proxy not found")
        return proxy

    # --- /version, /proxies, /reset, /metrics -----------------------------------------------
    async def version(self, req: Request) -> Response:
        body = f'{{"version": "{VERSION}"}}\n'.encode()
        return Response(200, body, [("Content-Type", "application/json;charset=utf-8")])

    async def proxies(self, req: Request) -> Response:
        if req.method == "GET":
            listing = {name: self.server.proxies[name].to_json() for name in sorted(self.server.proxies)}
            return json_response(200, listing)
        try:
            fields = ProxyFields(_decode_object(req.body, "proxy.Proxy"))
        except BodyError as exc:
            raise _bad_body(exc) from None
        if not _text(fields.name):
            raise ApiError(400, "missing required field: name")
        if not _text(fields.upstream):
            raise ApiError(400, "missing required field: upstream")
        if fields.name in self.server.proxies:
            raise ApiError(409, "proxy already exists")
        proxy = Proxy(self.server, fields.name, _text(fields.listen), fields.upstream)
        if fields.enabled is not False:
            try:
                await proxy.start()
            except AddressError as exc:
                raise ApiError(500, str(exc)) from None
        self.server.proxies[proxy.name] = proxy
        return json_response(201, proxy.to_json())

    async def reset(self, req: Request) -> Response:
        for name in sorted(self.server.proxies):
            proxy = self.server.proxies[name]
            if not proxy.enabled:
                try:
                    await proxy.start()
                except AddressError as exc:
                    raise ApiError(500, str(exc)) from None
            proxy.remove_all_toxics()
        return Response(204)

    async def metrics(self, req: Request) -> Response:
        return Response(200, self.server.metrics_text().encode(), [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])

    # --- /populate ------------------------------------------------------------------------
    async def populate(self, req: Request) -> Response:
        done: list[Proxy] = []

        def fail(status: int, message: str, proxies: list[Proxy] | None) -> Response:
            body = {"error": message, "status": status, "proxies": [p.to_json() for p in proxies] if proxies else None}
            return json_response(status, body)

        try:
            value = gojson.decode_first_value(req.body)
            if value is None:
                value = []
            if not isinstance(value, list):
                raise BodyError(
                    f"json: cannot unmarshal {gojson.go_type_name(value)} into Go value of type []proxy.Proxy"
                )
            entries = []
            for item in value:
                if item is None:
                    item = {}
                if not isinstance(item, dict):
                    raise BodyError(f"json: cannot unmarshal {gojson.go_type_name(item)} into Go value of type proxy.Proxy")
                entries.append(ProxyFields(item))
        except BodyError as exc:
            return fail(400, f"bad request body: {exc}", None)
        for index, fields in enumerate(entries, start=1):
            if not _text(fields.name):
                return fail(400, f"missing required field: name at proxy {index}", None)
            if not _text(fields.upstream):
                return fail(400, f"missing required field: upstream at proxy {index}", None)
        for fields in entries:
            listen = _text(fields.listen)
            existing = self.server.proxies.get(fields.name)
            if existing is not None:
                try:
                    differs = await self._differs(existing, listen, fields.upstream)
                except AddressError as exc:
                    return fail(500, str(exc), done)
                if not differs:
                    done.append(existing)
                    continue
                await existing.stop()
                del self.server.proxies[existing.name]
            proxy = Proxy(self.server, fields.name, listen, fields.upstream)
            if fields.enabled is not False:
                try:
                    await proxy.start()
                except AddressError as exc:
                    return fail(500, str(exc), done)
            self.server.proxies[proxy.name] = proxy
            done.append(proxy)
        return json_response(201, {"proxies": [p.to_json() for p in done] if done else None})

    @staticmethod
    async def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
        return await resolve_listen(listen) != proxy.listen or upstream != proxy.upstream

    # --- /proxies/{proxy} -------------------------------------------------------------------
    async def proxy(self, req: Request, name: str) -> Response:
        proxy = self._proxy(name)
        if req.method == "GET":
            return json_response(200, proxy.to_json())
        if req.method == "DELETE":
            await proxy.stop()
            self.server.proxies.pop(name, None)
            return Response(204)
        try:
            fields = ProxyFields(_decode_object(req.body, "proxy.Proxy"))
        except BodyError as exc:
            raise _bad_body(exc) from None
        listen = proxy.listen if fields.listen is MISSING else fields.listen
        upstream = proxy.upstream if fields.upstream is MISSING else fields.upstream
        enabled = proxy.enabled if fields.enabled is MISSING else fields.enabled
        try:
            differs = await self._differs(proxy, listen, upstream)
        except AddressError as exc:
            raise ApiError(500, str(exc)) from None
        try:
            if differs:
                await proxy.stop()
                proxy.listen, proxy.upstream = listen, upstream
                if enabled:
                    await proxy.start()
            elif enabled and not proxy.enabled:
                await proxy.start()
            elif not enabled and proxy.enabled:
                await proxy.stop()
        except AddressError as exc:
            raise ApiError(500, str(exc)) from None
        return json_response(200, proxy.to_json())

    # --- /proxies/{proxy}/toxics ----------------------------------------------------------
    async def toxics(self, req: Request, name: str) -> Response:
        proxy = self._proxy(name)
        if req.method == "GET":
            return json_response(200, [t.to_json() for t in proxy.toxics.all()])
        try:
            obj = _decode_object(req.body, "toxics.ToxicWrapper")
            toxic_name = gojson.as_string(obj, "name", "ToxicWrapper")
            kind_name = gojson.as_string(obj, "type", "ToxicWrapper")
            stream_text = gojson.as_string(obj, "stream", "ToxicWrapper")
            toxicity = gojson.as_float32(obj, "toxicity", "ToxicWrapper")
            attributes = gojson.lookup(obj, "attributes")
            if attributes is not MISSING and not isinstance(attributes, dict):
                raise gojson.unmarshal_error(attributes, "ToxicWrapper", "attributes", "map[string]interface {}")
        except BodyError as exc:
            raise _bad_body(exc) from None
        if stream_text is MISSING:
            stream_text = "downstream"
        stream = stream_text.lower()
        if stream not in ("upstream", "downstream"):
            raise ApiError(400, "stream was invalid, can be either upstream or downstream")
        kind = TOXIC_TYPES.get(_text(kind_name))
        if kind is None:
            raise ApiError(400, "invalid toxic type")
        if not _text(toxic_name):
            toxic_name = f"{kind.name}_{stream_text}"
        if proxy.toxics.get(toxic_name) is not None:
            raise ApiError(409, "toxic already exists")
        attrs = self._attributes(kind.name, {k: 0 for k in kind.attributes}, attributes)
        toxic = Toxic(
            toxic_name, kind, stream, stream_text, 1.0 if toxicity is MISSING else toxicity, attrs
        )
        proxy.add_toxic(toxic)
        return json_response(200, toxic.to_json())

    @staticmethod
    def _attributes(kind: str, current: dict[str, int], sent: Any) -> dict[str, int]:
        merged = dict(current)
        if isinstance(sent, dict):
            struct = "".join(part.title() for part in kind.split("_")) + "Toxic"
            try:
                for key in merged:
                    value = gojson.as_int64(sent, key, struct)
                    if value is not MISSING:
                        merged[key] = value
            except BodyError as exc:
                raise _bad_body(exc) from None
        problem = check_attributes(kind, merged)
        if problem is not None:
            raise ApiError(400, problem)
        return merged

    async def toxic(self, req: Request, name: str, toxic_name: str) -> Response:
        proxy = self._proxy(name)
        toxic = proxy.toxics.get(toxic_name)
        if toxic is None:
            raise ApiError(404, "toxic not found")
        if req.method == "GET":
            return json_response(200, toxic.to_json())
        if req.method == "DELETE":
            proxy.remove_toxic(toxic_name)
            return Response(204)
        try:
            obj = _decode_object(req.body, "toxics.ToxicWrapper")
            toxicity = gojson.as_float32(obj, "toxicity", "ToxicWrapper")
            attributes = gojson.lookup(obj, "attributes")
            if attributes is not MISSING and not isinstance(attributes, dict):
                raise gojson.unmarshal_error(attributes, "ToxicWrapper", "attributes", "map[string]interface {}")
        except BodyError as exc:
            raise _bad_body(exc) from None
        merged = self._attributes(toxic.type, toxic.attributes, attributes)
        toxic.attributes = merged
        if toxicity is not MISSING:
            toxic.toxicity = toxicity
        proxy.update_toxic(toxic)
        return json_response(200, toxic.to_json())
