"""Hash commands on `dict[bytes, bytes]` values."""

from __future__ import annotations

import math

from harness.pyredis import resp
from harness.pyredis.commands import NOT_INT, CommandError, command, to_float, to_int, typed_lookup
from harness.pyredis.commands.strings import format_long_double


def get_hash(db, key: bytes, write: bool = False) -> dict | None:
    return typed_lookup(db, key, dict, write)


def _create(client, key: bytes) -> dict:
    h = get_hash(client.db, key, write=True)
    if h is None:
        h = {}
        client.db.set(key, h)
    else:
        client.db.touch(key)
    return h


@command("hset", -4, "write denyoom fast", "hash")
def hset(client, args):
    if len(args) % 2:
        raise CommandError(f"ERR wrong number of arguments for '{args[0].decode().lower()}' command")
    h = _create(client, args[1])
    added = 0
    for i in range(2, len(args), 2):
        if args[i] not in h:
            added += 1
        h[args[i]] = args[i + 1]
    client.server.dirty += 1
    if args[0].lower() == b"hmset":
        return resp.OK
    return resp.integer(added)


@command("hmset", -4, "write denyoom fast", "hash")
def hmset(client, args):
    return hset(client, args)


@command("hsetnx", 4, "write denyoom fast", "hash")
def hsetnx(client, args):
    h = get_hash(client.db, args[1], write=True)
    if h is not None and args[2] in h:
        return resp.ZERO
    h = _create(client, args[1])
    h[args[2]] = args[3]
    client.server.dirty += 1
    return resp.ONE


@command("hget", 3, "readonly fast", "hash")
def hget(client, args):
    h = get_hash(client.db, args[1])
    return resp.bulk(None if h is None else h.get(args[2]))


@command("hmget", -3, "readonly fast", "hash")
def hmget(client, args):
    h = get_hash(client.db, args[1]) or {}
    return resp.array([h.get(f) for f in args[2:]])


@command("hdel", -3, "write fast", "hash")
def hdel(client, args):
    h = get_hash(client.db, args[1], write=True)
    if h is None:
        return resp.ZERO
    removed = 0
    for f in args[2:]:
        if h.pop(f, None) is not None:
            removed += 1
    if removed:
        if not h:
            client.db.delete(args[1])
        else:
            client.db.touch(args[1])
        client.server.dirty += removed
    return resp.integer(removed)


@command("hgetall", 2, "readonly", "hash")
def hgetall(client, args):
    h = get_hash(client.db, args[1]) or {}
    out = []
    for k, v in h.items():
        out.append(k)
        out.append(v)
    return resp.map_(out)


@command("hkeys", 2, "readonly", "hash")
def hkeys(client, args):
    return resp.array(list(get_hash(client.db, args[1]) or {}))


@command("hvals", 2, "readonly", "hash")
def hvals(client, args):
    return resp.array(list((get_hash(client.db, args[1]) or {}).values()))


@command("hlen", 2, "readonly fast", "hash")
def hlen(client, args):
    return resp.integer(len(get_hash(client.db, args[1]) or {}))


@command("hstrlen", 3, "readonly fast", "hash")
def hstrlen(client, args):
    return resp.integer(len((get_hash(client.db, args[1]) or {}).get(args[2], b"")))


@command("hexists", 3, "readonly fast", "hash")
def hexists(client, args):
    return resp.ONE if args[2] in (get_hash(client.db, args[1]) or {}) else resp.ZERO


@command("hincrby", 4, "write denyoom fast", "hash")
def hincrby(client, args):
    delta = to_int(args[3])
    h = get_hash(client.db, args[1], write=True)
    old = None if h is None else h.get(args[2])
    try:
        current = 0 if old is None else to_int(old)
    except CommandError:
        raise CommandError("ERR hash value is not an integer") from None
    new = current + delta
    if not -(2**63) <= new < 2**63:
        raise CommandError("ERR increment or decrement would overflow")
    h = _create(client, args[1])
    h[args[2]] = b"%d" % new
    client.server.dirty += 1
    return resp.integer(new)


@command("hincrbyfloat", 4, "write denyoom fast", "hash")
def hincrbyfloat(client, args):
    delta = to_float(args[3])
    h = get_hash(client.db, args[1], write=True)
    old = None if h is None else h.get(args[2])
    try:
        current = 0.0 if old is None else to_float(old)
    except CommandError:
        raise CommandError("ERR hash value is not a float") from None
    new = current + delta
    if math.isnan(new) or math.isinf(new):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = format_long_double(new)
    h = _create(client, args[1])
    h[args[2]] = text
    client.rewrites = [[b"HSET", args[1], args[2], text]]
    client.server.dirty += 1
    return resp.bulk(text)


@command("hscan", -3, "readonly", "hash")
def hscan(client, args):
    from harness.pyredis.commands.keys import glob_match, parse_scan_options

    match, _, _ = parse_scan_options(args, 3)
    h = get_hash(client.db, args[1]) or {}
    out = []
    for k, v in h.items():
        if match is None or glob_match(match, k):
            out += [k, v]
    return resp.array([b"0", out])


@command("hrandfield", -2, "readonly", "hash")
def hrandfield(client, args):
    import random

    h = get_hash(client.db, args[1]) or {}
    if len(args) == 2:
        return resp.bulk(random.choice(list(h)) if h else None)
    count = to_int(args[2], NOT_INT)
    fields = list(h)
    chosen = random.sample(fields, min(count, len(fields))) if count >= 0 else [random.choice(fields) for _ in range(-count)] if fields else []
    if len(args) > 3 and args[3].lower() == b"withvalues":
        out = []
        for f in chosen:
            out += [f, h[f]]
        return resp.array(out)
    return resp.array(chosen)


@command("hsetex", -6, "write denyoom fast", "hash")
def hsetex(client, args):
    """8.x HSETEX, which an 8.2 master propagates for HINCRBYFLOAT; field TTLs are not modelled."""
    i = 2
    cond = None
    while i < len(args) and args[i].lower() != b"fields":
        opt = args[i].lower()
        if opt in (b"fnx", b"fxx"):
            cond = opt
            i += 1
        elif opt in (b"ex", b"px", b"exat", b"pxat") and i + 1 < len(args):
            to_int(args[i + 1])
            i += 2
        elif opt == b"keepttl":
            i += 1
        else:
            raise CommandError("ERR syntax error")
    if i + 1 >= len(args):
        raise CommandError("ERR wrong number of arguments for 'hsetex' command")
    count = to_int(args[i + 1])
    pairs = args[i + 2 :]
    if count <= 0 or len(pairs) != 2 * count:
        raise CommandError("ERR invalid number of fields")
    h = get_hash(client.db, args[1], write=True)
    fields = pairs[0::2]
    if cond == b"fnx" and h is not None and any(f in h for f in fields):
        return resp.ZERO
    if cond == b"fxx" and (h is None or not all(f in h for f in fields)):
        return resp.ZERO
    h = _create(client, args[1])
    for f, v in zip(fields, pairs[1::2], strict=True):
        h[f] = v
    client.server.dirty += 1
    return resp.ONE
