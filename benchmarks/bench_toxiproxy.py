"""Throughput and round-trip time through the embedded Toxiproxy, side by side with a direct
loopback connection and with Go Toxiproxy's figures.

Run on demand:  python benchmarks/bench_toxiproxy.py [--runs 5] [--mib 512] [--pings 5000]

The proxy runs as a child process (`python -m harness toxiproxy`) and the upstream sink/echo
as another, so the client in this process never competes with them for one GIL. Each figure
is the median over --runs runs. Rows:

* direct      — client straight to the upstream (the loopback ceiling);
* proxy       — through a proxy with no toxics (the zero-copy splice path);
* proxy+noop  — a `noop` toxic on both streams forces the asyncio toxic chain.

The Toxiproxy column is Go toxiproxy-server 2.12.0 measured on this kind of 2-core machine
(docs/toxiproxy.md): ~0.97 GB/s and 116-124 µs round trip through the proxy.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.toxiproxy import ToxiproxyProcess  # noqa: E402

GO_THROUGHPUT_GBPS = 0.97
GO_RTT_US = 120.0

# The upstream: mode "sink" counts bytes and answers one byte when `total` arrived;
# mode "echo" echoes. One connection at a time, blocking sockets, as lean as Python gets.
UPSTREAM = r"""
import socket, sys
mode = sys.argv[1]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(16)
print(srv.getsockname()[1], flush=True)
buf = bytearray(1 << 20)
while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == "sink":
        header = b""
        while len(header) < 8:
            header += conn.recv(8 - len(header))
        total = int.from_bytes(header, "big"); got = 0
        while got < total:
            n = conn.recv_into(buf)
            if not n: break
            got += n
        conn.sendall(b"!")
    else:
        while True:
            data = conn.recv(65536)
            if not data: break
            conn.sendall(data)
    conn.close()
"""


def start_upstream(mode: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", UPSTREAM, mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def api(url: str, method: str, path: str, body: object | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def throughput(port: int, total: int) -> float:
    """Bytes per second for `total` bytes in 1 MiB writes over one connection."""
    chunk = b"\x5a" * (1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        sock.sendall(total.to_bytes(8, "big"))
        sent = 0
        while sent < total:
            sock.sendall(chunk)
            sent += len(chunk)
        if sock.recv(1) != b"!":
            raise RuntimeError("sink closed before acknowledging")
        return total / (time.perf_counter() - start)


def round_trip(port: int, pings: int) -> float:
    """Mean seconds per 4-byte ping-pong over one connection (after a warm-up)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(200):
            sock.sendall(b"ping")
            sock.recv(4)
        start = time.perf_counter()
        for _ in range(pings):
            sock.sendall(b"ping")
            got = sock.recv(4)
            while len(got) < 4:
                got += sock.recv(4 - len(got))
        return (time.perf_counter() - start) / pings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mib", type=int, default=512, help="MiB sent per throughput run")
    parser.add_argument("--pings", type=int, default=5000, help="round trips per RTT run")
    args = parser.parse_args()

    sink, sink_port = start_upstream("sink")
    echo, echo_port = start_upstream("echo")
    tp = ToxiproxyProcess().start()
    try:
        ports: dict[str, tuple[int, int]] = {"direct": (sink_port, echo_port)}
        for label, noop in (("proxy", False), ("proxy+noop", True)):
            pair = []
            for kind, upstream in (("sink", sink_port), ("echo", echo_port)):
                name = f"{label}-{kind}".replace("+", "-")
                proxy = api(tp.url, "POST", "/proxies",
                            {"name": name, "upstream": f"127.0.0.1:{upstream}", "listen": "127.0.0.1:0"})
                if noop:
                    for stream in ("upstream", "downstream"):
                        api(tp.url, "POST", f"/proxies/{name}/toxics", {"type": "noop", "stream": stream})
                pair.append(int(proxy["listen"].rsplit(":", 1)[1]))
            ports[label] = (pair[0], pair[1])

        total = args.mib << 20
        results: dict[str, tuple[float, float]] = {}
        for label, (tput_port, rtt_port) in ports.items():
            tputs = [throughput(tput_port, total) for _ in range(args.runs)]
            rtts = [round_trip(rtt_port, args.pings) for _ in range(args.runs)]
            results[label] = (statistics.median(tputs), statistics.median(rtts))

        direct_tput, direct_rtt = results["direct"]
        print(f"one connection, {args.runs} runs, medians; {args.mib} MiB per throughput run, "
              f"{args.pings} pings per RTT run, {os.cpu_count()} CPUs")
        print(f"{'path':<12} {'GB/s':>7} {'vs direct':>10} {'vs Go':>7}   {'RTT µs':>8} {'vs direct':>10} {'vs Go':>7}")
        for label, (tput, rtt) in results.items():
            print(f"{label:<12} {tput / 1e9:7.2f} {tput / direct_tput:10.2f} {tput / 1e9 / GO_THROUGHPUT_GBPS:7.2f}"
                  f"   {rtt * 1e6:8.1f} {rtt / direct_rtt:10.2f} {rtt * 1e6 / GO_RTT_US:7.2f}")
        print(f"{'Go toxiproxy':<12} {GO_THROUGHPUT_GBPS:7.2f} {'':>10} {'':>7}   {GO_RTT_US:8.1f}"
              "   (reference, toxiproxy-server 2.12.0 on this machine type)")
    finally:
        tp.stop()
        for proc in (sink, echo):
            proc.terminate()
            proc.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
