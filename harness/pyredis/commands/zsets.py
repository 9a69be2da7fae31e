"""Sorted-set commands on `ZSet` values (scores printed with %.17g as 7.0 does)."""

from __future__ import annotations

import math

from harness.pyredis import resp
from harness.pyredis.blocking import Pop, pop_or_park
from harness.pyredis.commands import (
    NOT_FLOAT,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    command,
    fmt_float,
    to_float,
    to_int,
    typed_lookup,
)
from harness.pyredis.values import ZSet


def get_zset(db, key: bytes, write: bool = False) -> ZSet | None:
    return typed_lookup(db, key, ZSet, write)


@command("zadd", -4, "write denyoom fast", "sortedset")
def zadd(client, args):
    nx = xx = gt = lt = ch = incr = False
    i = 2
    while i < len(args):
        opt = args[i].lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        else:
            break
        i += 1
    pairs = args[i:]
    if not pairs or len(pairs) % 2:
        raise CommandError(SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(pairs) > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [to_float(pairs[j]) for j in range(0, len(pairs), 2)]
    db = client.db
    z = get_zset(db, args[1], write=True)
    if z is None:
        if xx:
            return resp.null() if incr else resp.ZERO
        z = ZSet()
        db.set(args[1], z)
        created = True
    else:
        created = False
    added = changed = 0
    result = None
    for score, member in zip(scores, pairs[1::2], strict=True):
        old = z.score(member)
        if old is None:
            if xx:
                continue
            z.add(member, score)
            added += 1
            result = score
        else:
            if nx:
                continue
            new = old + score if incr else score
            if math.isnan(new):
                raise CommandError("ERR resulting score is not a number (NaN)")
            if (gt and new <= old) or (lt and new >= old):
                continue
            if new != old:
                z.add(member, new)
                changed += 1
            result = new
    if not z:
        if created:
            db.delete(args[1])
    elif added or changed:
        db.touch(args[1])
        client.server.dirty += added + changed
    if incr:
        return resp.double(None if result is None else fmt_float(result))
    return resp.integer(added + changed if ch else added)


@command("zincrby", 4, "write denyoom fast", "sortedset")
def zincrby(client, args):
    return zadd(client, [b"zadd", args[1], b"INCR", args[2], args[3]])


@command("zrem", -3, "write fast", "sortedset")
def zrem(client, args):
    db = client.db
    z = get_zset(db, args[1], write=True)
    if z is None:
        return resp.ZERO
    removed = sum(1 for m in args[2:] if z.remove(m))
    if removed:
        if not z:
            db.delete(args[1])
        else:
            db.touch(args[1])
        client.server.dirty += removed
    return resp.integer(removed)


@command("zscore", 3, "readonly fast", "sortedset")
def zscore(client, args):
    z = get_zset(client.db, args[1])
    score = None if z is None else z.score(args[2])
    return resp.double(None if score is None else fmt_float(score))


@command("zmscore", -3, "readonly fast", "sortedset")
def zmscore(client, args):
    z = get_zset(client.db, args[1])
    out = []
    for m in args[2:]:
        s = None if z is None else z.score(m)
        out.append(resp.Raw(resp.double(None if s is None else fmt_float(s))))
    return resp.array(out)


@command("zcard", 2, "readonly fast", "sortedset")
def zcard(client, args):
    z = get_zset(client.db, args[1])
    return resp.integer(0 if z is None else len(z))


def _rank(client, args, rev: bool) -> bytes:
    z = get_zset(client.db, args[1])
    rank = None if z is None else z.rank(args[2])
    if z is None or rank is None:
        return resp.null()
    return resp.integer(len(z) - 1 - rank if rev else rank)


@command("zrank", 3, "readonly fast", "sortedset")
def zrank(client, args):
    return _rank(client, args, False)


@command("zrevrank", 3, "readonly fast", "sortedset")
def zrevrank(client, args):
    return _rank(client, args, True)


def parse_score_bound(raw: bytes) -> tuple[float, bool]:
    """(value, exclusive)."""
    exclusive = raw.startswith(b"(")
    text = raw[1:] if exclusive else raw
    try:
        value = to_float(text)
    except CommandError:
        raise CommandError("ERR min or max is not a float") from None
    return value, exclusive


def _in_min(score: float, bound: tuple[float, bool]) -> bool:
    return score > bound[0] if bound[1] else score >= bound[0]


def _in_max(score: float, bound: tuple[float, bool]) -> bool:
    return score < bound[0] if bound[1] else score <= bound[0]


def _by_score(z: ZSet, lo: tuple[float, bool], hi: tuple[float, bool], rev: bool) -> list[tuple[bytes, float]]:
    index = z.index
    start = index.bisect_left((lo[0],))
    out = []
    for j in range(start, len(index)):
        score, member = index[j]
        if not _in_min(score, lo):
            continue
        if not _in_max(score, hi):
            break
        out.append((member, score))
    if rev:
        out.reverse()
    return out


def _lex_bound(raw: bytes) -> tuple[bytes | None, bool, int]:
    """(value, exclusive, infinity: -1 for '-', 1 for '+', 0 otherwise)."""
    if raw == b"-":
        return None, False, -1
    if raw == b"+":
        return None, False, 1
    if raw[:1] == b"(":
        return raw[1:], True, 0
    if raw[:1] == b"[":
        return raw[1:], False, 0
    raise CommandError("ERR min or max not valid string range item")


def _by_lex(z: ZSet, lo_raw: bytes, hi_raw: bytes, rev: bool) -> list[tuple[bytes, float]]:
    lo = _lex_bound(lo_raw)
    hi = _lex_bound(hi_raw)
    out = []
    for member, score in z:
        if lo[2] == 1 or hi[2] == -1:
            break
        if lo[2] == 0 and (member < lo[0] or (lo[1] and member == lo[0])):  # type: ignore[operator]
            continue
        if hi[2] == 0 and (member > hi[0] or (hi[1] and member == hi[0])):  # type: ignore[operator]
            continue
        out.append((member, score))
    if rev:
        out.reverse()
    return out


def _reply(items: list[tuple[bytes, float]], withscores: bool) -> bytes:
    if not withscores:
        return resp.array([m for m, _ in items])
    return resp.scored([(m, fmt_float(s)) for m, s in items])


def _zrange_generic(client, key: bytes, start: bytes, stop: bytes, mode: str, rev: bool,
                    withscores: bool, limit: tuple[int, int] | None) -> list[tuple[bytes, float]]:
    z = get_zset(client.db, key)
    if mode == "rank":
        s, e = to_int(start), to_int(stop)
        if z is None:
            return []
        n = len(z)
        if s < 0:
            s = max(n + s, 0)
        if e < 0:
            e = n + e
        e = min(e, n - 1)
        if s > e:
            return []
        if rev:
            s, e = n - 1 - e, n - 1 - s
            items = [(m, sc) for sc, m in z.index[s : e + 1]]
            items.reverse()
        else:
            items = [(m, sc) for sc, m in z.index[s : e + 1]]
        return items
    if mode == "score":
        lo, hi = parse_score_bound(start), parse_score_bound(stop)
        if rev:
            lo, hi = hi, lo
        items = [] if z is None else _by_score(z, lo, hi, rev)
    else:
        lo_raw, hi_raw = (stop, start) if rev else (start, stop)
        items = [] if z is None else _by_lex(z, lo_raw, hi_raw, rev)
    if limit is not None:
        off, cnt = limit
        if off < 0:
            return []
        items = items[off:] if cnt < 0 else items[off : off + cnt]
    return items


@command("zrange", -4, "readonly", "sortedset")
def zrange(client, args):
    mode = "rank"
    rev = withscores = False
    limit = None
    i = 4
    while i < len(args):
        opt = args[i].lower()
        if opt == b"byscore":
            mode = "score"
        elif opt == b"bylex":
            mode = "lex"
        elif opt == b"rev":
            rev = True
        elif opt == b"withscores":
            withscores = True
        elif opt == b"limit" and i + 2 < len(args):
            limit = (to_int(args[i + 1]), to_int(args[i + 2]))
            i += 2
        else:
            raise CommandError(SYNTAX)
        i += 1
    if limit is not None and mode == "rank":
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
    if withscores and mode == "lex":
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    return _reply(_zrange_generic(client, args[1], args[2], args[3], mode, rev, withscores, limit), withscores)


@command("zrevrange", -4, "readonly", "sortedset")
def zrevrange(client, args):
    withscores = len(args) == 5 and args[4].lower() == b"withscores"
    if len(args) > 5 or (len(args) == 5 and not withscores):
        raise CommandError(SYNTAX)
    return _reply(_zrange_generic(client, args[1], args[2], args[3], "rank", True, withscores, None), withscores)


def _byscore_cmd(client, args, rev: bool) -> bytes:
    withscores = False
    limit = None
    i = 4
    while i < len(args):
        opt = args[i].lower()
        if opt == b"withscores":
            withscores = True
        elif opt == b"limit" and i + 2 < len(args):
            limit = (to_int(args[i + 1]), to_int(args[i + 2]))
            i += 2
        else:
            raise CommandError(SYNTAX)
        i += 1
    return _reply(_zrange_generic(client, args[1], args[2], args[3], "score", rev, withscores, limit), withscores)


@command("zrangebyscore", -4, "readonly", "sortedset")
def zrangebyscore(client, args):
    return _byscore_cmd(client, args, False)


@command("zrevrangebyscore", -4, "readonly", "sortedset")
def zrevrangebyscore(client, args):
    return _byscore_cmd(client, args, True)


@command("zrangebylex", -4, "readonly", "sortedset")
def zrangebylex(client, args):
    limit = None
    if len(args) == 7 and args[4].lower() == b"limit":
        limit = (to_int(args[5]), to_int(args[6]))
    elif len(args) != 4:
        raise CommandError(SYNTAX)
    return _reply(_zrange_generic(client, args[1], args[2], args[3], "lex", False, False, limit), False)


@command("zcount", 4, "readonly fast", "sortedset")
def zcount(client, args):
    z = get_zset(client.db, args[1])
    lo, hi = parse_score_bound(args[2]), parse_score_bound(args[3])
    return resp.integer(0 if z is None else len(_by_score(z, lo, hi, False)))


def _pop(client, args, highest: bool) -> bytes:
    count = 1
    if len(args) == 3:
        count = to_int(args[2], "ERR value is out of range, must be positive")
        if count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    elif len(args) > 3:
        raise CommandError(SYNTAX)
    db = client.db
    z = get_zset(db, args[1], write=True)
    if z is None:
        return resp.EMPTY_ARRAY
    out: list = []
    members = []
    for _ in range(min(count, len(z))):
        score, member = z.index[-1] if highest else z.index[0]
        z.remove(member)
        members.append(member)
        out.append((member, fmt_float(score)))
    if members:
        # Propagated verbatim, as redis-server 6.2 / 7.0 / 8.2 do (the pop is deterministic).
        client.server.dirty += len(members)
        if not z:
            db.delete(args[1])
        else:
            db.touch(args[1])
    return resp.scored(out, nested=len(args) == 3)


@command("zpopmin", -2, "write fast", "sortedset")
def zpopmin(client, args):
    return _pop(client, args, False)


@command("zpopmax", -2, "write fast", "sortedset")
def zpopmax(client, args):
    return _pop(client, args, True)


def _remrange(client, key: bytes, items: list[tuple[bytes, float]]) -> bytes:
    db = client.db
    z = get_zset(db, key, write=True)
    if z is None or not items:
        return resp.ZERO
    for m, _ in items:
        z.remove(m)
    if not z:
        db.delete(key)
    else:
        db.touch(key)
    client.server.dirty += len(items)
    return resp.integer(len(items))


@command("zremrangebyrank", 4, "write", "sortedset")
def zremrangebyrank(client, args):
    items = _zrange_generic(client, args[1], args[2], args[3], "rank", False, False, None)
    return _remrange(client, args[1], items)


@command("zremrangebyscore", 4, "write", "sortedset")
def zremrangebyscore(client, args):
    items = _zrange_generic(client, args[1], args[2], args[3], "score", False, False, None)
    return _remrange(client, args[1], items)


@command("zscan", -3, "readonly", "sortedset")
def zscan(client, args):
    from harness.pyredis.commands.keys import glob_match, parse_scan_options

    match, _, _ = parse_scan_options(args, 3)
    z = get_zset(client.db, args[1])
    out: list = []
    if z is not None:
        for m, s in z:
            if match is None or glob_match(match, m):
                out += [m, fmt_float(s)]
    return resp.array([b"0", out])


def _store_op(client, args, union: bool) -> bytes:
    numkeys = to_int(args[2])
    if numkeys < 1:
        raise CommandError(f"ERR at least 1 input key is needed for '{args[0].decode().lower()}' command")
    keys = args[3 : 3 + numkeys]
    if len(keys) < numkeys:
        raise CommandError(SYNTAX)
    weights = [1.0] * numkeys
    aggregate = b"sum"
    i = 3 + numkeys
    while i < len(args):
        opt = args[i].lower()
        if opt == b"weights" and i + numkeys < len(args):
            weights = [to_float(w, "ERR weight value is not a float") for w in args[i + 1 : i + 1 + numkeys]]
            i += numkeys
        elif opt == b"aggregate" and i + 1 < len(args):
            aggregate = args[i + 1].lower()
            if aggregate not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    db = client.db
    sources: list[dict[bytes, float]] = []
    for k in keys:
        v = db.lookup_write(k)
        if v is None:
            sources.append({})
        elif type(v) is ZSet:
            sources.append(dict(v.scores))
        elif type(v) is set:
            sources.append(dict.fromkeys(v, 1.0))
        else:
            raise CommandError(WRONGTYPE)
    result: dict[bytes, float] = {}
    for n, (src, w) in enumerate(zip(sources, weights, strict=True)):
        if union or n == 0:
            for m, s in src.items():
                val = s * w if not math.isnan(s * w) else 0.0
                if m in result:
                    result[m] = _agg(aggregate, result[m], val)
                else:
                    result[m] = val
        else:
            result = {m: _agg(aggregate, s, src[m] * w) for m, s in result.items() if m in src}
    db.delete(args[1])
    if result:
        db.set(args[1], ZSet(result.items()))
    client.server.dirty += 1
    return resp.integer(len(result))


def _agg(kind: bytes, a: float, b: float) -> float:
    if kind == b"min":
        return min(a, b)
    if kind == b"max":
        return max(a, b)
    total = a + b
    return 0.0 if math.isnan(total) else total


@command("zunionstore", -4, "write denyoom", "sortedset")
def zunionstore(client, args):
    return _store_op(client, args, True)


@command("zinterstore", -4, "write denyoom", "sortedset")
def zinterstore(client, args):
    return _store_op(client, args, False)


# --- blocking forms (parking and serving live in harness.pyredis.blocking) -------------------
@command("bzpopmin", -3, "write noscript fast", "sortedset")
def bzpopmin(client, args):
    pop = Pop(left=True, plain_name=b"ZPOPMIN", sorted_set=True)
    return pop_or_park(client, args[1:-1], args[-1], pop, resp.null_array())


@command("bzpopmax", -3, "write noscript fast", "sortedset")
def bzpopmax(client, args):
    pop = Pop(left=False, plain_name=b"ZPOPMAX", sorted_set=True)
    return pop_or_park(client, args[1:-1], args[-1], pop, resp.null_array())


__all__ = ["NOT_FLOAT"]

