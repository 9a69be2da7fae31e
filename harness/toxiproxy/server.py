"""The server object: API listener, proxy registry and shared settings, on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path

from harness.toxiproxy.api import Api
from harness.toxiproxy.httpserver import Request, serve_connection
from harness.toxiproxy.netaddr import AddressError, resolve_ip
from harness.toxiproxy.proxy import Proxy

log = logging.getLogger("harness.toxiproxy")


class ToxiproxyServer:
    """Toxiproxy 2.12 compatible server. Create, then `await start()`; `await stop()` ends all."""

    def __init__(
        self, host: str = "localhost", port: int = 8474, seed: int | None = None,
        proxy_metrics: bool = False, fast_path: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.proxy_metrics = proxy_metrics
        self.fast_path = fast_path  # zero-copy relay for links without toxics
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()
        self.api = Api(self)
        self._http: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind the API; raises OSError (e.g. port in use) with a readable message."""
        if self.host in ("", "0.0.0.0", "::"):
            bind_host: str | None = None if self.host == "" else self.host
        else:
            try:
                bind_host = await resolve_ip(self.host)
            except AddressError as exc:
                raise OSError(f"cannot resolve API host {self.host!r}: {exc}") from None
        self._http = await asyncio.start_server(self._serve, bind_host, self.port, reuse_address=True)
        sock = self._http.sockets[0]
        self.port = sock.getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            await serve_connection(reader, writer, self.api.handle)
        finally:
            if task is not None:
                self._clients.discard(task)

    async def populate_file(self, path: str | Path) -> bool:
        """Apply a populate file at startup (as `-config` does); errors are logged, not raised."""
        try:
            body = Path(path).read_bytes()
        except OSError as exc:
            log.error("config %s: %s", path, exc)
            return False
        resp = await self.api.handle(Request("POST", "/populate", "HTTP/1.1", {}, body))
        if resp.status != 201:
            try:
                message = json.loads(resp.body).get("error", resp.body.decode())
            except (ValueError, AttributeError):
                message = resp.body.decode(errors="replace")
            log.error("config %s: %s", path, message)
            return False
        log.info("config %s: %d proxies", path, len(self.proxies))
        return True

    async def stop(self) -> None:
        if self._http is not None:
            self._http.close()
            for task in list(self._clients):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._http.wait_closed(), 2.0)
            self._http = None
        for proxy in list(self.proxies.values()):
            await proxy.stop()

    def metrics_text(self) -> str:
        lines: list[str] = []
        for metric, index, help_ in (
            ("toxiproxy_proxy_received_bytes_total", 0, "The total bytes received from the source side of a link."),
            ("toxiproxy_proxy_sent_bytes_total", 1, "The total bytes sent to the destination side of a link."),
        ):
            lines.append(f"# HELP {metric} {help_}")
            lines.append(f"# TYPE {metric} counter")
            for name in sorted(self.proxies):
                proxy = self.proxies[name]
                for (direction, listener, upstream), counts in sorted(proxy.counters.items()):
                    labels = (
                        f'direction="{direction}",listener="{_esc(listener)}",'
                        f'proxy="{_esc(name)}",upstream="{_esc(upstream)}"'
                    )
                    lines.append(f"{metric}{{{labels}}} {counts[index]}")
        return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
