"""Portable dataset capture and a readable diff.

DEBUG DIGEST says *whether* two datasets differ; when they do, a test failure should say
*where*. `capture` reads every key of every db with type-aware commands that every
Redis-compatible server has (so it also works where DEBUG is disabled), and `diff` turns two
captures into lines a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from harness.expectations import digest_score_format

Entry = tuple[str, Any, bool]  # (type, normalised value, has_ttl)


@dataclass
class Dataset:
    """(db, key) -> (type, value, has_ttl); values normalised so equal datasets compare equal."""

    entries: dict[tuple[int, bytes], Entry] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and self.entries == other.entries

    def keys(self, db: int = 0) -> set[bytes]:
        return {key for (d, key) in self.entries if d == db}


def _dbs_with_keys(conn: redis.Redis) -> list[int]:
    conn.set_response_callback("INFO", lambda response, **_: response)
    raw = conn.execute_command("INFO", "keyspace")
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    return sorted(int(line.split(":")[0][2:]) for line in text.splitlines() if line.startswith("db"))


def _read(conn: redis.Redis, key: bytes) -> Entry | None:
    kind = conn.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    value: Any
    if kind == "string":
        value = conn.get(key)
    elif kind == "list":
        value = tuple(conn.lrange(key, 0, -1))
    elif kind == "hash":
        value = tuple(sorted(conn.hgetall(key).items()))
    elif kind == "set":
        value = tuple(sorted(conn.smembers(key)))
    elif kind == "zset":
        value = tuple(conn.zrange(key, 0, -1, withscores=True))
    elif kind == "none":
        return None  # expired or deleted between SCAN and TYPE
    else:
        value = conn.dump(key)  # streams and module types: compare the serialised form
    ttl = conn.pttl(key)
    return kind, value, ttl is not None and ttl >= 0


def capture(node: Any, dbs: list[int] | None = None) -> Dataset:
    """Every key of every non-empty db (or of `dbs`), read through a fresh binary-safe client."""
    dataset = Dataset()
    with node.client(decode=False) as conn:
        for db in dbs if dbs is not None else _dbs_with_keys(conn):
            conn.execute_command("SELECT", db)
            for key in conn.scan_iter(count=1000):
                entry = _read(conn, key)
                if entry is not None:
                    dataset.entries[(db, key)] = entry
    return dataset


def diff(expected: Dataset, actual: Dataset, limit: int = 30) -> list[str]:
    """Human-readable differences, `expected` (usually the master) first."""
    lines: list[str] = []
    for db_key in sorted(set(expected.entries) | set(actual.entries)):
        db, key = db_key
        want, got = expected.entries.get(db_key), actual.entries.get(db_key)
        if want == got:
            continue
        name = f"db{db} {key!r}"
        if got is None:
            lines.append(f"missing  {name}: expected {_short(want)}")
        elif want is None:
            lines.append(f"extra    {name}: {_short(got)}")
        elif want[0] != got[0]:
            lines.append(f"type     {name}: expected {want[0]}, got {got[0]}")
        elif want[1] != got[1]:
            lines.append(f"value    {name}: expected {_short(want[1])}, got {_short(got[1])}")
        else:
            lines.append(f"ttl      {name}: expected has_ttl={want[2]}, got has_ttl={got[2]}")
        if len(lines) >= limit:
            lines.append("... (more differences not shown)")
            break
    return lines


def _short(value: Any, width: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def digest(node: Any) -> str | None:
    """DEBUG DIGEST, or None where the server does not allow DEBUG."""
    try:
        with node.client() as conn:
            return str(conn.execute_command("DEBUG", "DIGEST"))
    except redis.ResponseError:
        return None


def assert_same_data(master: Any, *replicas: Any) -> Dataset:
    """Fail with a key-level diff unless every replica holds exactly the master's data."""
    expected = capture(master)
    for replica in replicas:
        actual = capture(replica)
        if actual != expected:
            detail = "\n  ".join(diff(expected, actual))
            raise AssertionError(f"{replica.name} differs from {master.name}:\n  {detail}")
        if digest_score_format(master.build) != digest_score_format(replica.build):
            continue  # DEBUG DIGEST formats scores differently across these versions
        master_digest, replica_digest = digest(master), digest(replica)
        if master_digest is not None and replica_digest is not None:
            assert master_digest == replica_digest, (
                f"DEBUG DIGEST differs: {master.name} {master_digest} vs {replica.name} {replica_digest} "
                "although the captured keys match (a TTL or encoding-level difference)"
            )
    return expected
