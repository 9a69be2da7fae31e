"""The harness's view of Toxiproxy: one proxy per replication edge, faults as context managers.

A replica is never pointed at its master's real port. The topology asks for an edge
("r1->m"), gets a proxy listening on a loopback port, and issues REPLICAOF to that port; a
fault is then aimed at "the link r1->m", not at a raw proxy name. All calls go through the
toxiproxy-python client, so a real Toxiproxy given by URL works exactly like the embedded one.

Toxiproxy's directions, seen from an edge: "downstream" is master -> replica (the RDB and the
command stream), "upstream" is replica -> master (PSYNC, REPLCONF ACK).
"""

from __future__ import annotations

import contextlib
import itertools
import urllib.parse
from collections.abc import Iterator
from typing import Any

import toxiproxy
from toxiproxy.api import APIConsumer

from harness.nodes.base import HarnessError
from harness.recorder import current as current_recorder

STREAMS = ("downstream", "upstream")


class NetworkError(HarnessError):
    """Toxiproxy refused a request; the message carries its status and body."""


def _streams(stream: str) -> tuple[str, ...]:
    if stream == "both":
        return STREAMS
    if stream not in STREAMS:
        raise NetworkError(f"stream must be 'downstream', 'upstream' or 'both', got {stream!r}")
    return (stream,)


def _check(response: Any, what: str) -> Any:
    status = getattr(response, "status_code", 200)
    if status >= 300:
        raise NetworkError(f"Toxiproxy refused to {what}: HTTP {status} {response.text.strip()}")
    return response


class Network:
    """One Toxiproxy server (embedded or external) and the edges created on it by this process."""

    _instances = itertools.count(1)

    def __init__(self, url: str) -> None:
        parsed = urllib.parse.urlparse(url)
        if not parsed.hostname or not parsed.port:
            raise NetworkError(f"Toxiproxy URL needs a host and a port, got {url!r}")
        self.url = url
        self.host = parsed.hostname
        self.port = parsed.port
        self.client = toxiproxy.Toxiproxy()
        # toxiproxy-python keeps the server address on a class: one Toxiproxy per process.
        self.client.update_api_consumer(self.host, self.port)
        self.edges: dict[str, Edge] = {}
        self._prefix = f"h{next(self._instances)}"
        self._counter = itertools.count(1)

    def version(self) -> str:
        try:
            response = APIConsumer.get("/version")
        except Exception as exc:  # requests' connection errors
            raise NetworkError(f"no Toxiproxy answers at {self.url}: {exc}") from None
        return response.text.strip()

    def edge(self, replica: str, master: str, upstream_host: str, upstream_port: int) -> Edge:
        """A new proxy for the link replica -> master, listening on a free loopback port."""
        name = f"{replica}->{master}"
        if name in self.edges:
            existing = self.edges[name]
            if existing.upstream == f"{upstream_host}:{upstream_port}":
                return existing
            self.remove(name)
        proxy_name = f"{self._prefix}_{next(self._counter)}_{replica}_to_{master}"
        try:
            proxy = self.client.create(
                upstream=f"{upstream_host}:{upstream_port}", name=proxy_name, listen="127.0.0.1:0"
            )
        except Exception as exc:
            raise NetworkError(f"could not create the proxy for {name} on {self.url}: {exc}") from None
        edge = Edge(self, name, proxy)
        self.edges[name] = edge
        current_recorder().event("topology", "edge", name, listen=edge.listen, upstream=edge.upstream)
        return edge

    def remove(self, name: str) -> None:
        edge = self.edges.pop(name, None)
        if edge is not None:
            with contextlib.suppress(Exception):
                edge.proxy.destroy()

    def remove_all(self) -> None:
        for name in list(self.edges):
            self.remove(name)


class Edge:
    """The proxied link from a replica to its master."""

    def __init__(self, network: Network, name: str, proxy: Any) -> None:
        self.network = network
        self.name = name
        self.proxy = proxy
        self.proxy_name: str = proxy.name
        self.upstream: str = proxy.upstream
        self.listen: str = proxy.listen
        host, _, port = self.listen.rpartition(":")
        self.listen_host = host or "127.0.0.1"
        self.listen_port = int(port)
        self._toxic_ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Edge {self.name} {self.listen} -> {self.upstream}>"

    # --- raw operations -------------------------------------------------------------------
    def add_toxic(
        self,
        type: str,
        attributes: dict[str, Any] | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> list[str]:
        """Add a toxic on one stream or both ("both" adds two); returns the toxic names."""
        names = []
        for direction in _streams(stream):
            toxic_name = name or f"{type}_{direction}_{next(self._toxic_ids)}"
            if stream == "both" and name:
                toxic_name = f"{name}_{direction}"
            body = {
                "name": toxic_name,
                "type": type,
                "stream": direction,
                "toxicity": toxicity,
                "attributes": attributes or {},
            }
            try:
                _check(APIConsumer.post(f"/proxies/{self.proxy_name}/toxics", json=body), f"add {type} on {self.name}")
            except NetworkError:
                raise
            except Exception as exc:  # toxiproxy-python raises its own types for 400/404/409
                raise NetworkError(f"Toxiproxy refused {type} on {self.name}: {exc}") from None
            names.append(toxic_name)
        return names

    def remove_toxic(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.proxy.destroy_toxic(name)

    def toxics(self) -> list[str]:
        try:
            return list(self.proxy.toxics())
        except Exception as exc:
            raise NetworkError(f"could not list the toxics of {self.name}: {exc}") from None

    def disable(self) -> None:
        try:
            self.proxy.disable()
        except Exception as exc:
            raise NetworkError(f"could not disable {self.name}: {exc}") from None

    def enable(self) -> None:
        try:
            self.proxy.enable()
        except Exception as exc:
            raise NetworkError(f"could not re-enable {self.name}: {exc}") from None

    def clear(self) -> None:
        """Drop every toxic and make sure the proxy listens: the healed state."""
        for name in self.toxics():
            self.remove_toxic(name)
        self.enable()

    # --- faults as context managers -------------------------------------------------------
    @contextlib.contextmanager
    def toxic(self, type: str, attributes: dict[str, Any], stream: str, label: str | None = None) -> Iterator[Edge]:
        """Apply a toxic for the duration of the block, recorded as a fault window."""
        with current_recorder().window("fault", label or type, self.name, stream=stream, **attributes):
            names = self.add_toxic(type, attributes, stream=stream)
            try:
                yield self
            finally:
                for name in names:
                    self.remove_toxic(name)

    @contextlib.contextmanager
    def cut(self) -> Iterator[Edge]:
        """Partition: the proxy stops listening and drops live connections until the block ends."""
        with current_recorder().window("fault", "partition", self.name):
            self.disable()
            try:
                yield self
            finally:
                self.enable()

    def latency(self, ms: int, jitter: int = 0, stream: str = "both") -> contextlib.AbstractContextManager[Edge]:
        return self.toxic("latency", {"latency": ms, "jitter": jitter}, stream)

    def bandwidth(self, kbps: int, stream: str = "downstream") -> contextlib.AbstractContextManager[Edge]:
        """Limit to `kbps` KB/s (Toxiproxy's unit is kilobytes per second)."""
        return self.toxic("bandwidth", {"rate": kbps}, stream)

    def blackhole(self, timeout_ms: int = 0, stream: str = "both") -> contextlib.AbstractContextManager[Edge]:
        """Swallow data; with timeout_ms > 0 close the connection after that long."""
        return self.toxic("timeout", {"timeout": timeout_ms}, stream, label="blackhole")

    def reset(self, timeout_ms: int = 0, stream: str = "downstream") -> contextlib.AbstractContextManager[Edge]:
        """Reset (RST) connections after timeout_ms."""
        return self.toxic("reset_peer", {"timeout": timeout_ms}, stream, label="reset")

    def cut_after(self, nbytes: int, stream: str = "downstream") -> contextlib.AbstractContextManager[Edge]:
        """Close each connection once `nbytes` have passed (e.g. in the middle of the RDB)."""
        return self.toxic("limit_data", {"bytes": nbytes}, stream, label="cut_after")

    def slicer(
        self, average_size: int, size_variation: int = 0, delay_us: int = 0, stream: str = "downstream"
    ) -> contextlib.AbstractContextManager[Edge]:
        attrs = {"average_size": average_size, "size_variation": size_variation, "delay": delay_us}
        return self.toxic("slicer", attrs, stream)
