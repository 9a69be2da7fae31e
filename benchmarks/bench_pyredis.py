"""Throughput and full-sync speed of the Python node, side by side with redis-server 7.0.

    python benchmarks/bench_pyredis.py [--requests 100000] [--keys 1000000] [--runs 1]

Prints our figure, the reference figure, and the ratio, for:
  * redis-benchmark -t set,get -n N -P 1 and -P 16 (target: pipelined >= 20 % of real);
  * full sync of K keys with 100-byte values: real -> Python, Python -> Python, vs real -> real
    (target: within 3x of real -> real).
Every server runs on a free loopback port in a temp dir and is killed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

REAL = "/usr/bin/redis-server"
BENCH = "/usr/bin/redis-benchmark"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.dir = root / f"{kind}-{self.port}"
        self.dir.mkdir()
        conf = self.dir / "node.conf"
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\nsave \"\"\nlogfile {self.dir / 'log'}\n"
            "repl-diskless-sync no\nrepl-diskless-sync-delay 0\nrepl-timeout 120\n"
            + ("enable-debug-command yes\n" if kind == "real" else "")
        )
        argv = [REAL, str(conf)] if kind == "real" else [sys.executable, "-m", "harness", "pyredis", str(conf)]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client().ping():
                    break
            except (redis.RedisError, OSError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} server did not answer PING within 20 s") from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=300, protocol=2)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def bench_rps(port: int, requests: int, pipeline: int) -> dict[str, float]:
    out = subprocess.run(
        [BENCH, "-p", str(port), "-t", "set,get", "-n", str(requests), "-P", str(pipeline), "-q", "--csv"],
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    result = {}
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split(",")]
        if parts and parts[0] in ("SET", "GET"):
            result[parts[0]] = float(parts[1])
    return result


def full_sync_seconds(master: Proc, replica: Proc, keys: int) -> float:
    m = master.client()
    m.flushall()
    m.execute_command("DEBUG", "POPULATE", keys, "key", 100)
    r = replica.client()
    r.execute_command("REPLICAOF", "NO", "ONE")
    r.flushall()
    start = time.monotonic()
    r.execute_command("REPLICAOF", "127.0.0.1", master.port)
    deadline = start + 600
    while True:
        info = r.info("replication")
        if info.get("master_link_status") == "up":
            break
        if time.monotonic() > deadline:
            raise RuntimeError("full sync did not finish within 600 s")
        time.sleep(0.02)
    elapsed = time.monotonic() - start
    assert r.dbsize() == keys, (r.dbsize(), keys)
    r.execute_command("REPLICAOF", "NO", "ONE")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-sync", action="store_true")
    args = parser.parse_args()
    for tool in (REAL, BENCH):
        if not Path(tool).exists():
            print(f"missing {tool}: apt-get install redis-server redis-tools", file=sys.stderr)
            return 2
    root = Path(tempfile.mkdtemp(prefix="bench-pyredis-"))
    procs: list[Proc] = []
    try:
        py = Proc("py", root)
        real = Proc("real", root)
        procs += [py, real]
        print(f"{'benchmark':<34}{'pyredis':>14}{'redis 7.0':>14}{'ratio':>9}")
        for pipeline in (1, 16):
            ours = [bench_rps(py.port, args.requests, pipeline) for _ in range(args.runs)]
            ref = [bench_rps(real.port, args.requests, pipeline) for _ in range(args.runs)]
            for op in ("SET", "GET"):
                a = statistics.median(o[op] for o in ours)
                b = statistics.median(o[op] for o in ref)
                print(f"{op + f' -P {pipeline} (req/s)':<34}{a:>14,.0f}{b:>14,.0f}{a / b:>8.1%}")
        if not args.skip_sync:
            py2 = Proc("py", root)
            real2 = Proc("real", root)
            procs += [py2, real2]
            ref = statistics.median(full_sync_seconds(real, real2, args.keys) for _ in range(args.runs))
            pairs = [("real -> python", real, py2), ("python -> python", py, py2)]
            print(f"\nfull sync of {args.keys:,} keys x 100 B   (median of {args.runs}; reference real -> real {ref:.2f} s)")
            for label, master, replica in pairs:
                ours_s = statistics.median(full_sync_seconds(master, replica, args.keys) for _ in range(args.runs))
                print(f"{label + ' (s)':<34}{ours_s:>14.2f}{ref:>14.2f}{ours_s / ref:>8.1f}x")
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
