"""`python -m harness toxiproxy` / `harness-toxiproxy`: the server's command line.

Takes toxiproxy-server's flags in Go's styles (`-port 8474`, `-port=8474`) and also `--port`,
so scripts written for the Go binary (testcontainers passes `-host=0.0.0.0 -config=...`) work
unchanged. Our extensions: `-port 0` (ephemeral; the bound port is printed in the ready line),
`-seed` actually seeds toxicity and jitter draws, and `-parent-pid` makes the server exit when
the process that started it is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from harness.rundir import pid_alive
from harness.toxiproxy.api import VERSION

USAGE = """\
usage: python -m harness toxiproxy [flags]

  -host string          address the API listens on (default "localhost")
  -port int             API port; 0 picks a free port (default 8474)
  -config string        JSON file of proxies to create at startup (same as POST /populate)
  -seed int             seed for toxicity and jitter draws (default: random each run)
  -proxy-metrics        serve proxy byte counters on /metrics (Prometheus text)
  -runtime-metrics      accepted for compatibility; also enables /metrics
  -parent-pid int       exit when this process is gone (used by ToxiproxyProcess)
  -version              print the version and exit

Flags may be written -flag value, -flag=value or --flag. On start the server prints
`toxiproxy API listening on HOST:PORT` on stdout. SIGINT or SIGTERM shuts it down cleanly.
LOG_LEVEL (debug, info, warn, error) sets the log level (default info)."""

_VALUE_FLAGS = {"host", "port", "config", "seed", "parent-pid"}
_BOOL_FLAGS = {"proxy-metrics", "runtime-metrics", "version", "help", "h"}


class UsageError(Exception):
    pass


@dataclass
class Options:
    host: str = "localhost"
    port: int = 8474
    config: str | None = None
    seed: int | None = None
    proxy_metrics: bool = False
    runtime_metrics: bool = False
    parent_pid: int | None = None
    version: bool = False
    help: bool = False


def _int(flag: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError(f'invalid value "{text}" for flag -{flag}: parse error') from None
    if not low <= value <= high:
        raise UsageError(f'invalid value "{text}" for flag -{flag}: value out of range')
    return value


def _bool(flag: str, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise UsageError(f'invalid boolean value "{text}" for -{flag}: parse error')


def parse_args(argv: Sequence[str]) -> Options:
    opts = Options()
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--" or not arg.startswith("-") or arg == "-":
            raise UsageError(f"unexpected argument: {arg!r}")
        name = arg.lstrip("-")
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in _BOOL_FLAGS:
            flag_value = True if value is None else _bool(name, value)
            if name in ("help", "h"):
                opts.help = flag_value
            else:
                setattr(opts, name.replace("-", "_"), flag_value)
            continue
        if name not in _VALUE_FLAGS:
            raise UsageError(f"flag provided but not defined: -{name}")
        if value is None:
            if i >= len(args):
                raise UsageError(f"flag needs an argument: -{name}")
            value = args[i]
            i += 1
        if name == "host":
            opts.host = value
        elif name == "port":
            opts.port = _int(name, value, 0, 65535)
        elif name == "config":
            opts.config = value
        elif name == "seed":
            opts.seed = _int(name, value, -(2**63), 2**63 - 1)
        elif name == "parent-pid":
            opts.parent_pid = _int(name, value, 1, 2**31 - 1)
    return opts


def _log_level() -> int:
    level = os.environ.get("LOG_LEVEL", "info").lower()
    return {
        "trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
        "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL, "panic": logging.CRITICAL,
    }.get(level, logging.INFO)


def _parent_alive(pid: int) -> bool:
    """Still our parent: once it dies we are re-parented, so the pid alone is not enough."""
    return os.getppid() == pid and pid_alive(pid)


async def _serve(opts: Options) -> int:
    from harness.toxiproxy.server import ToxiproxyServer

    server = ToxiproxyServer(
        opts.host, opts.port, seed=opts.seed, proxy_metrics=opts.proxy_metrics or opts.runtime_metrics
    )
    if opts.config:
        await server.populate_file(opts.config)  # like Toxiproxy: before the API listens
    try:
        await server.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"toxiproxy: cannot listen on {opts.host}:{opts.port}: {reason}", file=sys.stderr)
        await server.stop()
        return 1
    shown = server._http.sockets[0].getsockname()[0] if server._http else opts.host
    print(f"toxiproxy API listening on {shown}:{server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    async def watch_parent(pid: int) -> None:
        while _parent_alive(pid):
            await asyncio.sleep(0.5)
        logging.getLogger("harness.toxiproxy").warning("parent process %d is gone; shutting down", pid)
        stop.set()

    watcher = loop.create_task(watch_parent(opts.parent_pid)) if opts.parent_pid else None
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        opts = parse_args(args)
    except UsageError as exc:
        print(f"toxiproxy: {exc}\n\n{USAGE}", file=sys.stderr)
        return 2
    if opts.help:
        print(USAGE)
        return 0
    if opts.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    logging.basicConfig(level=_log_level(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(_serve(opts))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
