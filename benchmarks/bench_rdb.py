"""RDB codec speed: our load_rdb / dump_rdb next to real redis-server loading the same file.

Run on demand (not part of the test suite):

    python benchmarks/bench_rdb.py                       # 1M x 100 B keys + a mix, 7.0 server
    python benchmarks/bench_rdb.py --keys 200000 --repeat 5 --redis-server /path/to/redis-server

For each file it prints our load time and MB/s, our write time for the same dataset, the CRC-64
share of both, and the real server's load time for the very same file (its log line "DB loaded
from disk: N seconds", and wall time from exec to the first PING reply), with the ratio.
Figures are medians over --repeat runs; the machine may be shared, so CPU time is shown too.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402

from harness.pyredis import crc64 as crcmod  # noqa: E402
from harness.pyredis.rdb import dump_rdb, load_rdb  # noqa: E402
from harness.pyredis.values import ZSet  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A throwaway redis-server in its own directory (killed and removed on exit)."""

    def __init__(self, binary: str, rdb: bytes | None = None) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="bench-rdb-"))
        if rdb is not None:
            (self.dir / "dump.rdb").write_bytes(rdb)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    def start(self, timeout: float = 120.0) -> redis.Redis:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--dbfilename", "dump.rdb",
                "--logfile", str(self.dir / "log")]
        if _version(self.binary) >= (7, 0):
            args += ["--enable-debug-command", "yes"]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=60)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited during startup:\n{self.log()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING within {timeout}s")
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.005)
        self.startup_s = time.perf_counter() - t0
        return client

    def log(self) -> str:
        try:
            return (self.dir / "log").read_text(errors="replace")
        except OSError:
            return ""

    def loaded_seconds(self) -> float | None:
        m = re.search(r"DB loaded from disk: ([0-9.]+) seconds", self.log())
        return float(m.group(1)) if m else None

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _version(binary: str) -> tuple[int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"v=(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds over `repeat` runs, and the last result."""
    walls, cpus = [], []
    result: object = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), result


def random_strings(n: int, size: int) -> dict[int, dict[bytes, tuple[object, int | None]]]:
    rnd = random.Random(1)
    return {0: {b"key:%d" % i: (rnd.randbytes(size), None) for i in range(n)}}


def mixed(n: int) -> dict[int, dict[bytes, tuple[object, int | None]]]:
    """n keys: 60% strings (some int, some with TTL), 10% each list/hash/set/zset of 10 elements."""
    rnd = random.Random(2)
    db: dict[bytes, tuple[object, int | None]] = {}
    far = 4102444800000
    for i in range(n):
        kind = i % 10
        key = b"k:%d" % i
        if kind < 6:
            value: object = b"%d" % i if kind == 0 else rnd.randbytes(40)
        elif kind == 6:
            value = deque(b"e%d" % j for j in range(10))
        elif kind == 7:
            value = {b"f%d" % j: b"v%d" % (i + j) for j in range(10)}
        elif kind == 8:
            value = {b"%d" % (i + j) for j in range(10)}
        else:
            value = ZSet((b"m%d" % j, j * 1.5) for j in range(10))
        db[key] = (value, far if kind == 1 else None)
    return {0: db}


def real_written(binary: str, source: bytes) -> bytes:
    """The same dataset as the real server itself writes it (compact encodings, LZF)."""
    with Server(binary, source) as server:
        client = server.start()
        client.save()
        return (server.dir / "dump.rdb").read_bytes()


def populate_file(binary: str, n: int, size: int) -> bytes:
    with Server(binary) as server:
        client = server.start()
        client.execute_command("DEBUG", "POPULATE", n, "key", size)
        client.save()
        return (server.dir / "dump.rdb").read_bytes()


def bench_file(name: str, data: bytes, binary: str, repeat: int) -> None:
    mb = len(data) / 1e6
    wall, cpu, contents = _timed(lambda: load_rdb(data), repeat)
    wall_nc, _, _ = _timed(lambda: load_rdb(data, verify_checksum=False), repeat)
    dbs = contents.dbs  # type: ignore[attr-defined]
    nkeys = sum(len(d) for d in dbs.values())
    dwall, dcpu, out = _timed(lambda: dump_rdb(dbs), repeat)
    dwall_nc, _, _ = _timed(lambda: dump_rdb(dbs, checksum=False), repeat)
    real_loaded, real_start = [], []
    for _ in range(repeat):
        with Server(binary, data) as server:
            server.start()
            real_start.append(server.startup_s)
            if server.loaded_seconds() is not None:
                real_loaded.append(server.loaded_seconds())
    rl = statistics.median(real_loaded) if real_loaded else float("nan")
    rs = statistics.median(real_start)
    print(f"\n== {name}: {nkeys} keys, {mb:.1f} MB ==")
    print(f"{'':34}{'ours':>10}{'real':>10}{'ratio':>8}")
    print(f"{'load (wall s, CRC checked)':34}{wall:10.3f}{rl:10.3f}{wall / rl:8.1f}x   ({mb / wall:.0f} MB/s, cpu {cpu:.3f} s)")
    print(f"{'load (wall s, CRC skipped)':34}{wall_nc:10.3f}{rl:10.3f}{wall_nc / rl:8.1f}x")
    print(f"{'exec -> first PONG (real only)':34}{'':>10}{rs:10.3f}")
    print(f"{'dump_rdb (wall s, with CRC)':34}{dwall:10.3f}{'':>10}{'':>8}   ({len(out) / 1e6 / dwall:.0f} MB/s, cpu {dcpu:.3f} s)")  # type: ignore[arg-type]
    print(f"{'dump_rdb (wall s, checksum 0)':34}{dwall_nc:10.3f}")


def bench_crc(size: int, repeat: int) -> None:
    """CPU time (the steadier figure on a shared machine) of each CRC path."""
    data = os.urandom(size)
    _, fast, _ = _timed(lambda: crcmod.crc64(0, data), repeat)
    small = data[: 8 << 20]
    _, pure, _ = _timed(lambda: crcmod.crc64_py(0, small), repeat)
    _, byte, _ = _timed(lambda: crcmod.crc64_bytewise(0, small[: 2 << 20]), repeat)
    print("\n== CRC-64 (CPU time) ==")
    path = "numpy lanes" if crcmod.HAVE_NUMPY else "pure Python (numpy missing)"
    print(f"crc64() [{path}] over {size / 1e6:.0f} MB: {fast:.3f} s = {size / 1e6 / fast:.0f} MB/s")
    print(f"crc64_py slicing-by-8:      {len(small) / 1e6 / pure:.1f} MB/s")
    print(f"crc64_bytewise reference:   {(2 << 20) / 1e6 / byte:.1f} MB/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--value-size", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--redis-server", default="/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else shutil.which("redis-server") or "redis-server")
    args = ap.parse_args(argv)
    if not os.path.exists(args.redis_server):
        print(f"redis-server not found at {args.redis_server}; pass --redis-server", file=sys.stderr)
        return 2
    print(f"redis-server {'.'.join(map(str, _version(args.redis_server)))} at {args.redis_server};"
          f" median of {args.repeat}; numpy CRC path: {crcmod.HAVE_NUMPY}")
    ours = dump_rdb(random_strings(args.keys, args.value_size))
    bench_file(f"{args.keys} x {args.value_size} B random strings (written by dump_rdb)", ours,
               args.redis_server, args.repeat)
    del ours
    pop = populate_file(args.redis_server, args.keys, args.value_size)
    bench_file(f"{args.keys} x {args.value_size} B DEBUG POPULATE (real SAVE, every value LZF)",
               pop, args.redis_server, args.repeat)
    del pop
    mix = real_written(args.redis_server, dump_rdb(mixed(args.keys // 2)))
    bench_file(f"{args.keys // 2} mixed keys (real SAVE: listpacks, intsets, int strings)", mix,
               args.redis_server, args.repeat)
    bench_crc(100_000_000, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
