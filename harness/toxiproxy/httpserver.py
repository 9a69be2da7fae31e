"""A small HTTP/1.1 server on asyncio streams, just enough for Toxiproxy's JSON API.

Written here rather than taken from a framework so every byte of the status line, headers and
body is under our control (clients and tests compare them with Go's output) and so the package
has no dependency beyond the standard library. Keep-alive, Content-Length and chunked bodies
are supported; timeouts mirror Go's server (read 15 s, idle 60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

log = logging.getLogger("harness.toxiproxy.http")

READ_TIMEOUT = 15.0
IDLE_TIMEOUT = 60.0
MAX_HEADER_BYTES = 1 << 20
MAX_BODY_BYTES = 16 << 20


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    pass


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def render(resp: Response, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {resp.status} {_reason(resp.status)}"]
    names = {name.lower() for name, _ in resp.headers}
    lines += [f"{name}: {value}" for name, value in resp.headers]
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    if resp.status != 204 and resp.status >= 200 and "content-length" not in names:
        lines.append(f"Content-Length: {len(resp.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (b"" if resp.status == 204 else resp.body)


async def _read_head(reader: asyncio.StreamReader, first_timeout: float) -> bytes | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), first_timeout)
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest("truncated request") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request header too large") from None
    return head


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size == 0:
                while (await asyncio.wait_for(reader.readline(), READ_TIMEOUT)).strip():
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequest("request body too large")
            parts.append(await asyncio.wait_for(reader.readexactly(size), READ_TIMEOUT))
            await asyncio.wait_for(reader.readexactly(2), READ_TIMEOUT)
    length_text = headers.get("content-length", "0").strip() or "0"
    if not length_text.isdigit():
        raise BadRequest("bad Content-Length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise BadRequest("request body too large")
    return await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT) if length else b""


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest("malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header line")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, target, version, headers


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    try:
        first = True
        while True:
            try:
                head = await _read_head(reader, READ_TIMEOUT if first else IDLE_TIMEOUT)
                if head is None:
                    return
                method, target, version, headers = _parse_head(head)
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it on big bodies
                    await writer.drain()
                body = await _read_body(reader, headers)
            except BadRequest as exc:
                msg = f"400 Bad Request: {exc}".encode()
                writer.write(render(Response(400, msg, [("Content-Type", "text/plain; charset=utf-8")]), False))
                await writer.drain()
                return
            except (TimeoutError, asyncio.IncompleteReadError):
                return
            first = False
            conn_hdr = headers.get("connection", "").lower()
            keep_alive = "close" not in conn_hdr and (version == "HTTP/1.1" or "keep-alive" in conn_hdr)
            try:
                resp = await handler(Request(method, target, version, headers, body))
            except Exception:  # a bug must not kill the connection silently or leak a traceback
                log.exception("handler failed for %s %s", method, target)
                resp = Response(500, b"internal server error\n", [("Content-Type", "text/plain; charset=utf-8")])
            writer.write(render(resp, keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    except (ConnectionError, OSError):
        return
    finally:
        with contextlib.suppress(Exception):
            writer.close()
