"""Helpers shared by the embedded Toxiproxy tests (a unique module name, so it never clashes
with another directory's conftest on sys.path)."""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class HttpResult:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


class Api:
    """Raw HTTP against the server, so tests see exact status lines, headers and bodies."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> HttpResult:
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            hdrs = {"User-Agent": "toxiproxy-tests"}
            hdrs.update(headers or {})
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return HttpResult(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> HttpResult:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> HttpResult:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> HttpResult:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> HttpResult:
        return self.request("DELETE", path, **kw)

    # conveniences
    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0", **extra: Any) -> dict[str, Any]:
        res = self.post("/proxies", {"name": name, "upstream": upstream, "listen": listen, **extra})
        assert res.status == 201, res.body
        return res.json()

    def add_toxic(self, proxy: str, **toxic: Any) -> dict[str, Any]:
        res = self.post(f"/proxies/{proxy}/toxics", toxic)
        assert res.status == 200, res.body
        return res.json()


class Upstream:
    """A TCP server on 127.0.0.1:0. mode "echo" echoes; mode "hold" hands each accepted socket
    to the test (via `accept()`), so the test plays the server side itself."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.accepted: queue.Queue[socket.socket] = queue.Queue()
        self._conns: list[socket.socket] = []
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            if self.mode == "echo":
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()
            else:
                self.accepted.put(conn)

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    def accept(self, timeout: float = 5.0) -> socket.socket:
        try:
            conn = self.accepted.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"upstream {self.address} saw no connection within {timeout} s") from None
        conn.settimeout(10)
        return conn

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.sock.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass
        self._thread.join(2)


def recv_exactly(sock: socket.socket, n: int, timeout: float = 10) -> bytes:
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"waited {timeout} s for {n} bytes, got {got}")
        sock.settimeout(left)
        data = sock.recv(min(1 << 20, n - got))
        if not data:
            raise AssertionError(f"EOF after {got} of {n} bytes")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def recv_until_eof(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything until EOF; fails (not hangs) if EOF does not come within `timeout`."""
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no EOF within {timeout} s (got {sum(map(len, parts))} bytes)")
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        if not data:
            return b"".join(parts)
        parts.append(data)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
