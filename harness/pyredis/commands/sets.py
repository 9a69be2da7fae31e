"""Set commands on `set[bytes]` values; SPOP propagates as SREM like Redis."""

from __future__ import annotations

import random

from harness.pyredis import resp
from harness.pyredis.commands import CommandError, command, to_int, typed_lookup


def get_set(db, key: bytes, write: bool = False) -> set | None:
    return typed_lookup(db, key, set, write)


@command("sadd", -3, "write denyoom fast", "set")
def sadd(client, args):
    s = get_set(client.db, args[1], write=True)
    if s is None:
        s = set()
        client.db.set(args[1], s)
    before = len(s)
    s.update(args[2:])
    added = len(s) - before
    if added:
        client.db.touch(args[1])
        client.server.dirty += added
    return resp.integer(added)


@command("srem", -3, "write fast", "set")
def srem(client, args):
    s = get_set(client.db, args[1], write=True)
    if s is None:
        return resp.ZERO
    removed = 0
    for m in args[2:]:
        if m in s:
            s.discard(m)
            removed += 1
    if removed:
        if not s:
            client.db.delete(args[1])
        else:
            client.db.touch(args[1])
        client.server.dirty += removed
    return resp.integer(removed)


@command("smembers", 2, "readonly", "set")
def smembers(client, args):
    return resp.set_(list(get_set(client.db, args[1]) or ()))


@command("sismember", 3, "readonly fast", "set")
def sismember(client, args):
    return resp.ONE if args[2] in (get_set(client.db, args[1]) or ()) else resp.ZERO


@command("smismember", -3, "readonly fast", "set")
def smismember(client, args):
    s = get_set(client.db, args[1]) or set()
    return resp.array([1 if m in s else 0 for m in args[2:]])


@command("scard", 2, "readonly fast", "set")
def scard(client, args):
    return resp.integer(len(get_set(client.db, args[1]) or ()))


@command("spop", -2, "write fast", "set")
def spop(client, args):
    if len(args) > 3:
        raise CommandError("ERR syntax error")
    db = client.db
    count = None
    if len(args) == 3:
        count = to_int(args[2], "ERR value is out of range, must be positive")
        if count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    s = get_set(db, args[1], write=True)
    if s is None:
        return resp.EMPTY_ARRAY if count is not None else resp.null()
    n = 1 if count is None else min(count, len(s))
    chosen = random.sample(list(s), n) if n else []
    for m in chosen:
        s.discard(m)
    if chosen:
        client.rewrites = [[b"SREM", args[1], *chosen]]
        client.server.dirty += len(chosen)
        if not s:
            db.delete(args[1])
        else:
            db.touch(args[1])
    if count is None:
        return resp.bulk(chosen[0] if chosen else None)
    return resp.array(chosen)


@command("srandmember", -2, "readonly", "set")
def srandmember(client, args):
    s = get_set(client.db, args[1])
    if len(args) == 2:
        return resp.bulk(random.choice(list(s)) if s else None)
    count = to_int(args[2])
    members = list(s or ())
    if not members:
        return resp.EMPTY_ARRAY
    if count >= 0:
        return resp.array(random.sample(members, min(count, len(members))))
    return resp.array([random.choice(members) for _ in range(-count)])


@command("sscan", -3, "readonly", "set")
def sscan(client, args):
    from harness.pyredis.commands.keys import glob_match, parse_scan_options

    match, _, _ = parse_scan_options(args, 3)
    s = get_set(client.db, args[1]) or set()
    return resp.array([b"0", [m for m in s if match is None or glob_match(match, m)]])


@command("smove", 4, "write fast", "set")
def smove(client, args):
    db = client.db
    src = get_set(db, args[1], write=True)
    dst = get_set(db, args[2], write=True)
    if src is None or args[3] not in src:
        return resp.ZERO
    src.discard(args[3])
    if not src:
        db.delete(args[1])
    if dst is None:
        dst = set()
        db.set(args[2], dst)
    dst.add(args[3])
    db.touch(args[1])
    db.touch(args[2])
    client.server.dirty += 1
    return resp.ONE


def _sets(client, keys: list[bytes]) -> list[set]:
    return [get_set(client.db, k) or set() for k in keys]


def _combine(kind: str, sets: list[set]) -> set:
    if not sets:
        return set()
    if kind == "union":
        return set().union(*sets)
    if kind == "inter":
        return set(sets[0]).intersection(*sets[1:])
    return set(sets[0]).difference(*sets[1:])


def _store(client, args, kind: str) -> bytes:
    result = _combine(kind, _sets(client, args[2:]))
    db = client.db
    db.lookup_write(args[1])
    db.delete(args[1])
    if result:
        db.set(args[1], result)
    client.server.dirty += 1
    return resp.integer(len(result))


@command("sunion", -2, "readonly", "set")
def sunion(client, args):
    return resp.set_(list(_combine("union", _sets(client, args[1:]))))


@command("sinter", -2, "readonly", "set")
def sinter(client, args):
    return resp.set_(list(_combine("inter", _sets(client, args[1:]))))


@command("sdiff", -2, "readonly", "set")
def sdiff(client, args):
    return resp.set_(list(_combine("diff", _sets(client, args[1:]))))


@command("sunionstore", -3, "write denyoom", "set")
def sunionstore(client, args):
    return _store(client, args, "union")


@command("sinterstore", -3, "write denyoom", "set")
def sinterstore(client, args):
    return _store(client, args, "inter")


@command("sdiffstore", -3, "write denyoom", "set")
def sdiffstore(client, args):
    return _store(client, args, "diff")
