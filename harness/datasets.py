"""Small deterministic datasets for the suites: every data type, several dbs, some TTLs.

Suites need data whose arrival proves something ("every type survived the snapshot"), and a
failure must be reproducible, so contents derive from a seed and a prefix only.
"""

from __future__ import annotations

import random
from typing import Any


def write_all_types(conn: Any, prefix: str = "k", count: int = 10, seed: int = 0, db: int = 0) -> int:
    """Write `count` keys of each type (string, list, hash, set, zset) plus a few with TTLs.

    Returns the number of keys written. Values are small, so compact encodings (listpack,
    intset) are exercised; `write_large_values` covers the big ones.
    """
    rng = random.Random(f"{seed}:{prefix}:{db}")
    conn.execute_command("SELECT", db)
    pipe = conn.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{prefix}:str:{i}", f"v{rng.randrange(10**9)}")
        pipe.rpush(f"{prefix}:list:{i}", *[f"e{j}" for j in range(rng.randrange(1, 8))])
        pipe.hset(f"{prefix}:hash:{i}", mapping={f"f{j}": str(rng.randrange(1000)) for j in range(rng.randrange(1, 6))})
        pipe.sadd(f"{prefix}:set:{i}", *[str(rng.randrange(100)) for _ in range(5)])  # intset
        pipe.zadd(f"{prefix}:zset:{i}", {f"m{j}": rng.random() * 100 for j in range(rng.randrange(1, 6))})
        pipe.set(f"{prefix}:ttl:{i}", "expiring", ex=3600)
    pipe.execute()
    conn.execute_command("SELECT", 0)
    return count * 6


def write_large_values(conn: Any, prefix: str = "big", count: int = 5, size: int = 200) -> int:
    """Keys whose encodings are the non-compact ones (hashtable, quicklist, skiplist)."""
    pipe = conn.pipeline(transaction=False)
    for i in range(count):
        pipe.rpush(f"{prefix}:list:{i}", *[f"element-{j}" for j in range(size)])
        pipe.hset(f"{prefix}:hash:{i}", mapping={f"field-{j}": "x" * 80 for j in range(size)})
        pipe.sadd(f"{prefix}:set:{i}", *[f"member-{j}" for j in range(size)])
        pipe.zadd(f"{prefix}:zset:{i}", {f"member-{j}": j / 7 for j in range(size)})
        pipe.set(f"{prefix}:str:{i}", "y" * 10_000)
    pipe.execute()
    return count * 5


def fill_bytes(conn: Any, total_bytes: int, prefix: str = "fill", value_size: int = 1000, seed: int = 0) -> int:
    """Write about `total_bytes` of payload in `value_size` strings; returns the key count.

    Values are random hex, which LZF cannot shrink: a snapshot of N bytes of data really is
    about N bytes on the wire, so a bandwidth toxic slows it as much as the test expects.
    """
    count = max(1, total_bytes // value_size)
    rng = random.Random(f"{seed}:{prefix}")
    pipe = conn.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"{prefix}:{i}", rng.randbytes(value_size // 2).hex())
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return count
