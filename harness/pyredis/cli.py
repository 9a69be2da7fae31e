"""`python -m harness pyredis [conf] [--name value ...]`: run the Python Redis node.

Accepts redis-server's own argv shape so the process backend can start either server with the
same conf file; a bad conf file exits non-zero with Redis's words, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

from harness.pyredis.config import Config, ConfigError, split_conf_args
from harness.pyredis.log import Log

USAGE = """usage: python -m harness pyredis [/path/to/redis.conf] [--port N] [--<directive> value ...]

Runs the Python Redis node (RESP2, 16 databases, RDB persistence, master/replica replication
compatible with redis-server 6.2 / 7.0 / 8.2). Directives are those of redis.conf."""


def build_config(argv: list[str]) -> tuple[Config, str | None]:
    conf_path, directives = split_conf_args(argv)
    config = Config()
    if conf_path is not None:
        config.load_file(conf_path)
    for name, values in directives:
        try:
            config.set_directive(name, values, from_file=True)
        except ConfigError as exc:
            raise ConfigError(f"in the command line arguments: >>> '{name} {' '.join(values)}' {exc}") from None
    config.sync_default_user()
    return config, conf_path


def _loop_factory(log: Log) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (the `fast` extra) and not disabled with PYREDIS_UVLOOP=0.

    It roughly doubles pipelined throughput; without it the standard loop runs the same code.
    """
    if os.environ.get("PYREDIS_UVLOOP", "1") == "0":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    log.notice(f"Event loop: uvloop {uvloop.__version__}")
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] in ("-v", "--version"):
        from harness.pyredis.server import PYREDIS_VERSION, REDIS_VERSION

        print(f"pyredis v={PYREDIS_VERSION} (emulates Redis server v={REDIS_VERSION})")
        return 0
    try:
        config, conf_path = build_config(argv)
    except ConfigError as exc:
        print(f"\n*** FATAL CONFIG FILE ERROR (pyredis) ***\n{exc}", file=sys.stderr)
        return 1
    directory = config.get("dir")
    if directory:
        try:
            os.chdir(directory)
        except OSError as exc:
            print(f"Can't chdir to '{directory}': {exc.strerror}", file=sys.stderr)
            return 1
        config.values["dir"] = os.getcwd()
    try:
        log = Log(config.get("logfile"))
    except OSError as exc:
        print(f"Can't open the log file: {exc.strerror}", file=sys.stderr)
        return 1
    for name in config.unknown:
        log.notice(f"Ignoring unsupported directive '{name}'")
    from harness.pyredis.server import Server

    server = Server(config, log)
    server.config_file = os.path.abspath(conf_path) if conf_path else None
    loop_factory = _loop_factory(log)
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(server.serve())
    except KeyboardInterrupt:
        return 0
    finally:
        log.close()
