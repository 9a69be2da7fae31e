"""Listen and upstream addresses, parsed, resolved, bound and printed the way Go's net does.

Toxiproxy reports `listen` as `Addr().String()` of the bound socket and compares listen
addresses after resolving them, so `localhost:7070` equals a bound `127.0.0.1:7070` and
`0.0.0.0:N` binds a dual-stack socket shown as `[::]:N`. Clients and tests compare these
strings, so they have to come out the same here.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket

RESOLVE_TIMEOUT = 5.0


class AddressError(Exception):
    """The message is Go's error text (it becomes a 500 body)."""


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error texts (without the `address X: ` prefix)."""
    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise AddressError("missing ']' in address")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest.startswith(":"):
            raise AddressError("missing port in address")
        port = rest[1:]
        if "[" in port or "]" in port:
            raise AddressError("unexpected ']' in address")
        return host, port
    colon = addr.rfind(":")
    if colon < 0:
        raise AddressError("missing port in address")
    host, port = addr[:colon], addr[colon + 1 :]
    if ":" in host:
        raise AddressError("too many colons in address")
    if "[" in host or "]" in host:
        raise AddressError("unexpected '[' in address")
    return host, port


def parse_port(port: str) -> int:
    if port == "":
        return 0
    if port.isdigit():
        value = int(port)
        if value <= 65535:
            return value
        raise AddressError("invalid port")
    raise AddressError(f"lookup tcp/{port}: unknown port")


def format_addr(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = _ipv6_available()


async def resolve_ip(host: str) -> str:
    """One IP for `host`, IPv4 preferred (Go picks the first IPv4 result for "tcp")."""
    if host == "localhost":
        return "127.0.0.1"
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (TimeoutError, OSError):
        raise AddressError(f"lookup {host}: no such host") from None
    ipv4 = [info[4][0] for info in infos if info[0] == socket.AF_INET]
    if ipv4:
        return str(ipv4[0])
    if infos:
        return str(infos[0][4][0])
    raise AddressError(f"lookup {host}: no such host")


async def resolve_listen(addr: str) -> str:
    """The string Go's ResolveTCPAddr(addr).String() gives; used by the "differs" test."""
    try:
        host, port_text = split_host_port(addr or ":0")
        port = parse_port(port_text)
        if host == "":
            return f":{port}"
        return format_addr(await resolve_ip(host), port)
    except AddressError as exc:
        raise AddressError(f"address {addr}: {exc}") from None


def _strerror(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


async def bind_listener(addr: str) -> tuple[socket.socket, str]:
    """Bind and listen on `addr`; returns the socket and the address to report."""
    listen = addr if addr else ":0"
    try:
        host, port_text = split_host_port(listen)
        port = parse_port(port_text)
    except AddressError as exc:
        raise AddressError(f"listen tcp: address {addr}: {exc}") from None
    if host in ("", "0.0.0.0", "::") and IPV6:
        family, ip = socket.AF_INET6, "::"
    elif host == "":
        family, ip = socket.AF_INET, "0.0.0.0"
    else:
        try:
            ip = await resolve_ip(host)
        except AddressError as exc:
            raise AddressError(f"listen tcp: {exc}") from None
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and ip == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((ip, port))
        sock.listen(socket.SOMAXCONN)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        shown = format_addr(host if host in ("", "0.0.0.0", "::") else ip, port)
        if exc.errno == errno.EADDRINUSE or exc.strerror:
            raise AddressError(f"listen tcp {shown}: bind: {_strerror(exc)}") from None
        raise AddressError(f"listen tcp {shown}: {exc}") from None
    bound = sock.getsockname()
    return sock, format_addr(bound[0], bound[1])


async def dial(upstream: str, timeout: float) -> socket.socket:
    """Connect to `upstream` (resolved afresh each time, as Toxiproxy does)."""
    host, port_text = split_host_port(upstream)
    port = parse_port(port_text)
    ip = await resolve_ip(host or "127.0.0.1")
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (ip, port)), timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        sock.close()
        raise
    return sock
