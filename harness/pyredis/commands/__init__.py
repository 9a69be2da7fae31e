"""The command table: one module per command family registers its handlers here.

Handlers are plain functions `(client, args) -> bytes` that run synchronously on the event loop,
like Redis's command procs; a handler that must wait (WAIT) returns a `Blocked` carrying a
coroutine. Errors are raised as `CommandError` so the exact Redis text lives in one place per case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar


class CommandError(Exception):
    """Becomes `-<text>` on the wire (text includes the ERR/WRONGTYPE/... prefix)."""


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
SYNTAX = "ERR syntax error"

# Families whose commands only touch the keyspace (Command.data_only).
DATA_FAMILIES = frozenset({"string", "list", "hash", "set", "sortedset", "bitmap", "keyspace"})


@dataclass(frozen=True)
class Command:
    name: str
    handler: Callable[[Any, list[bytes]], Any]
    arity: int
    flags: frozenset[str]
    categories: frozenset[str]
    is_write: bool
    # Only reads or writes keys: it cannot change what the dispatcher's refusals depend on
    # (authentication, ACL users, MULTI, the replica role, loading, min-replicas), so a batch
    # of such commands may skip re-checking them one by one (see Server.gates_open).
    data_only: bool = False


class Blocked:
    """A reply that arrives later: the client stops reading until `awaitable` yields bytes."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[bytes]) -> None:
        self.awaitable = awaitable


COMMANDS: dict[bytes, Command] = {}
# Upper-case spellings too, so the dispatcher usually finds a command without lower().
UPPER: dict[bytes, Command] = {}
# What the dispatcher reads: both spellings (filled by load_all).
LOOKUP: dict[bytes, Command] = {}


def command(name: str, arity: int, flags: str = "", categories: str = "") -> Callable:
    def register(func: Callable) -> Callable:
        flag_set = frozenset(flags.split())
        cats = set(categories.split())
        cats.add("write" if "write" in flag_set else "read")
        if "admin" in flag_set:
            cats.update({"admin", "dangerous"})
        data_only = bool(cats & DATA_FAMILIES)
        entry = Command(name, func, arity, flag_set, frozenset(cats), "write" in flag_set, data_only)
        COMMANDS[name.encode()] = entry
        UPPER[name.upper().encode()] = entry
        return func

    return register


_V = TypeVar("_V")


def typed_lookup(db: Any, key: bytes, kind: type[_V], write: bool = False) -> _V | None:
    """The key's value if it holds `kind`, None if absent, WRONGTYPE for any other type.

    Redis's lookupKeyRead/lookupKeyWrite followed by checkType: a write lookup may delete an
    expired key first, a read one only hides it (on a replica).
    """
    value = db.lookup_write(key) if write else db.lookup(key)
    if value is None:
        return None
    if type(value) is not kind:
        raise CommandError(WRONGTYPE)
    return value


def to_int(raw: bytes, message: str = NOT_INT) -> int:
    """Parse like string2ll: optional '-', digits, no spaces or '+', fits int64."""
    if not raw or len(raw) > 20:
        raise CommandError(message)
    try:
        value = int(raw)
    except ValueError:
        raise CommandError(message) from None
    if raw[0] in b"+ " or raw[-1:] in (b" ",) or (raw[0] == 0x30 and len(raw) > 1) or raw.startswith(b"-0"):
        raise CommandError(message)
    if not -(2**63) <= value < 2**63:
        raise CommandError(message)
    return value


def to_float(raw: bytes, message: str = NOT_FLOAT) -> float:
    """Parse like strtod: no surrounding spaces; Python's own digit-group underscores
    ("1_0") are no number to Redis."""
    import math

    text = raw.strip().lower()
    if text != raw.lower() or not text or b"_" in text:
        raise CommandError(message)
    if text in (b"inf", b"+inf", b"infinity", b"+infinity"):
        return math.inf
    if text in (b"-inf", b"-infinity"):
        return -math.inf
    try:
        value = float(text)
    except ValueError:
        raise CommandError(message) from None
    if math.isnan(value):
        raise CommandError(message)
    return value


def fmt_float(value: float) -> bytes:
    """%.17g as Redis 6.2/7.0 print doubles."""
    import math

    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return (b"%.17g" % value)


def load_all() -> None:
    """Import every family so its commands register."""
    from harness.pyredis.commands import (  # noqa: F401
        connection,
        hashes,
        keys,
        lists,
        replication,
        server,
        sets,
        strings,
        transactions,
        zsets,
    )

    LOOKUP.update(COMMANDS)
    LOOKUP.update(UPPER)
