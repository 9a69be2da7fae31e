"""Chaos: blocking pops under load: concurrent pushes, BLPOP / BRPOP / BLMOVE / BZPOP* on shared keys, a slow link.

Redis's block-repl test in our terms (checklist item 122): several clients push unique values
(RPUSH / LPUSH / ZADD) and pop them with blocking commands on a few shared lists and sorted
sets while the replication link carries
latency. Every value must end up exactly once (popped by one client, or still in a list), and
the replica must hold what the master holds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from harness.capture import assert_same_data

KEYS = [f"bq{i}" for i in range(4)]  # lists
ZKEYS = ["bz0", "bz1"]  # sorted sets
CLIENTS = 3
OPS_PER_CLIENT = 120


def _client_loop(node, seed: int, client_id: int, pushed: list[str], popped: list[str], errors: list[str]) -> None:
    rng = random.Random(seed * 1000 + client_id)
    conn = node.client(timeout=10)
    try:
        for n in range(OPS_PER_CLIENT):
            key, other = rng.sample(KEYS, 2)
            kind = rng.choice(["lpush", "rpush", "blpop", "brpop", "blmove", "zadd", "bzpopmin", "bzpopmax"])
            if kind == "zadd":
                value = f"c{client_id}-{n}"
                conn.zadd(rng.choice(ZKEYS), {value: rng.random()})
                pushed.append(value)
            elif kind in ("bzpopmin", "bzpopmax"):
                got = getattr(conn, kind)(ZKEYS, 0.1)
                if got is not None:
                    popped.append(got[1])
            elif kind in ("lpush", "rpush"):
                value = f"c{client_id}-{n}"
                getattr(conn, kind)(key, value)
                pushed.append(value)
            elif kind == "blmove":
                conn.blmove(key, other, 0.1, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]))
            else:
                got = getattr(conn, kind)([key, other], 0.1)
                if got is not None:
                    popped.append(got[1])
    except Exception as exc:  # noqa: BLE001 - reported by the test, with the client that saw it
        errors.append(f"client {client_id}: {exc!r}")
    finally:
        conn.close()


def test_blocking_pops_under_load_lose_and_duplicate_nothing(server, topology_factory, chaos_seed) -> None:
    """Concurrent pushes and blocking pops over a link with latency: every value once, replica equal"""
    topo = topology_factory("m <- r1")
    m, r1 = topo["m"], topo["r1"]
    pushed: list[str] = []
    popped: list[str] = []
    errors: list[str] = []

    with topo.edge("r1").latency(20, jitter=10):
        threads = [threading.Thread(target=_client_loop, args=(m, chaos_seed, i, pushed, popped, errors))
                   for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a client did not finish its ops within 120 s"
    assert errors == []

    remaining = [v for key in KEYS for v in m.client().lrange(key, 0, -1)]
    remaining += [v for key in ZKEYS for v in m.client().zrange(key, 0, -1)]
    accounted = Counter(popped) + Counter(remaining)
    duplicated = sorted(v for v, n in accounted.items() if n > 1)
    assert duplicated == [], f"values delivered twice: {duplicated[:10]}"
    assert set(accounted) == set(pushed), (
        f"lost: {sorted(set(pushed) - set(accounted))[:10]}, invented: {sorted(set(accounted) - set(pushed))[:10]}")
    assert popped, "the load never popped anything: the test exercised nothing"
    topo.wait_in_sync()
    assert_same_data(m, r1)
