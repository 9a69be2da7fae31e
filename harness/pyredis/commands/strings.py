"""String commands, with the 7.0 propagation rewrites (relative expiry -> absolute PXAT)."""

from __future__ import annotations

from harness.pyredis import resp
from harness.pyredis.commands import (
    NOT_FLOAT,
    NOT_INT,
    SYNTAX,
    WRONGTYPE,
    CommandError,
    command,
    fmt_float,
    to_float,
    to_int,
    typed_lookup,
)
from harness.pyredis.keyspace import now_ms


def get_str(db, key: bytes, write: bool = False) -> bytes | None:
    return typed_lookup(db, key, bytes, write)


def _expire_arg(unit: bytes, raw: bytes, name: str) -> int:
    """Absolute unix ms for EX/PX/EXAT/PXAT."""
    value = to_int(raw)
    if value <= 0 or (unit in (b"ex", b"exat") and value > (2**63 - 1) // 1000):
        raise CommandError(f"ERR invalid expire time in '{name}' command")
    if unit == b"ex":
        value = now_ms() + value * 1000
    elif unit == b"px":
        value = now_ms() + value
    elif unit == b"exat":
        value *= 1000
    return value


@command("get", 2, "readonly fast", "string")
def get(client, args):
    # Inlined get_str/bulk: GET is the hottest read in pipelined benchmarks.
    value = client.db.lookup(args[1])
    if value is None:
        return resp.null()
    if type(value) is not bytes:
        raise CommandError(WRONGTYPE)
    return b"$%d\r\n%s\r\n" % (len(value), value)


@command("set", -3, "write denyoom", "string")
def set_(client, args):
    key, value = args[1], args[2]
    if len(args) == 3:
        # Plain SET: same steps as the option path below with every option off.
        db = client.db
        db.lookup_write(key)  # expires a stale key first, as Redis does
        db.set(key, value)
        client.server.dirty += 1
        return resp.OK
    nx = xx = keepttl = want_get = False
    expire: int | None = None
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"nx" and not xx:
            nx = True
        elif opt == b"xx" and not nx:
            xx = True
        elif opt == b"get":
            want_get = True
        elif opt == b"keepttl" and expire is None:
            keepttl = True
        elif opt in (b"ex", b"px", b"exat", b"pxat") and expire is None and not keepttl and i + 1 < len(args):
            expire = _expire_arg(opt, args[i + 1], "set")
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    db = client.db
    old = db.lookup_write(key)
    if want_get and old is not None and type(old) is not bytes:
        raise CommandError(WRONGTYPE)
    if (nx and old is not None) or (xx and old is None):
        return resp.bulk(old) if want_get else resp.null()
    db.set(key, value, keep_ttl=keepttl)
    if expire is not None:
        db.set_expire(key, expire)
        client.rewrites = [[b"SET", key, value, b"PXAT", b"%d" % expire]]
    elif want_get:
        client.rewrites = [[a for a in args if a.lower() != b"get"]]
    client.server.dirty += 1
    if want_get:
        return resp.bulk(old)
    return resp.OK


@command("setnx", 3, "write denyoom fast", "string")
def setnx(client, args):
    if client.db.lookup_write(args[1]) is not None:
        return resp.ZERO
    client.db.set(args[1], args[2])
    client.server.dirty += 1
    return resp.ONE


def _setex(client, key: bytes, raw: bytes, value: bytes, unit: bytes, name: str) -> bytes:
    when = _expire_arg(unit, raw, name)
    client.db.set(key, value)
    client.db.set_expire(key, when)
    client.rewrites = [[b"SET", key, value, b"PXAT", b"%d" % when]]
    client.server.dirty += 1
    return resp.OK


@command("setex", 4, "write denyoom", "string")
def setex(client, args):
    return _setex(client, args[1], args[2], args[3], b"ex", "setex")


@command("psetex", 4, "write denyoom", "string")
def psetex(client, args):
    return _setex(client, args[1], args[2], args[3], b"px", "psetex")


@command("mget", -2, "readonly fast", "string")
def mget(client, args):
    db = client.db
    out = []
    for key in args[1:]:
        value = db.lookup(key)
        out.append(value if type(value) is bytes else None)
    return resp.array(out)


@command("mset", -3, "write denyoom", "string")
def mset(client, args):
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'mset' command")
    db = client.db
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    client.server.dirty += 1
    return resp.OK


@command("msetnx", -3, "write denyoom", "string")
def msetnx(client, args):
    if len(args) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for 'msetnx' command")
    db = client.db
    if any(db.lookup_write(args[i]) is not None for i in range(1, len(args), 2)):
        return resp.ZERO
    for i in range(1, len(args), 2):
        db.set(args[i], args[i + 1])
    client.server.dirty += 1
    return resp.ONE


def _incr(client, key: bytes, delta: int) -> bytes:
    db = client.db
    old = get_str(db, key, write=True)
    if old is None:
        current = 0
    else:
        try:
            current = to_int(old)
        except CommandError:
            raise CommandError(NOT_INT) from None
    new = current + delta
    if not -(2**63) <= new < 2**63:
        raise CommandError("ERR increment or decrement would overflow")
    db.set(key, b"%d" % new, keep_ttl=True)
    client.server.dirty += 1
    return resp.integer(new)


@command("incr", 2, "write denyoom fast", "string")
def incr(client, args):
    return _incr(client, args[1], 1)


@command("decr", 2, "write denyoom fast", "string")
def decr(client, args):
    return _incr(client, args[1], -1)


@command("incrby", 3, "write denyoom fast", "string")
def incrby(client, args):
    return _incr(client, args[1], to_int(args[2]))


@command("decrby", 3, "write denyoom fast", "string")
def decrby(client, args):
    delta = to_int(args[2])
    if delta == -(2**63):
        raise CommandError("ERR decrement would overflow")
    return _incr(client, args[1], -delta)


def format_long_double(value: float) -> bytes:
    """INCRBYFLOAT output: %.17Lf with trailing zeros trimmed (humanfriendly)."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = f"{value:.17f}".rstrip("0").rstrip(".")
    elif text.endswith(".0"):
        text = text[:-2]
    return text.encode()


@command("incrbyfloat", 3, "write denyoom fast", "string")
def incrbyfloat(client, args):
    import math

    db = client.db
    old = get_str(db, args[1], write=True)
    try:
        current = 0.0 if old is None else to_float(old)
    except CommandError:
        raise CommandError(NOT_FLOAT) from None
    new = current + to_float(args[2])
    if math.isnan(new) or math.isinf(new):
        raise CommandError("ERR increment would produce NaN or Infinity")
    text = format_long_double(new)
    db.set(args[1], text, keep_ttl=True)
    client.rewrites = [[b"SET", args[1], text, b"KEEPTTL"]]
    client.server.dirty += 1
    return resp.bulk(text)


@command("append", 3, "write denyoom fast", "string")
def append(client, args):
    db = client.db
    old = get_str(db, args[1], write=True) or b""
    new = old + args[2]
    db.set(args[1], new, keep_ttl=True)
    client.server.dirty += 1
    return resp.integer(len(new))


@command("strlen", 2, "readonly fast", "string")
def strlen(client, args):
    return resp.integer(len(get_str(client.db, args[1]) or b""))


@command("getset", 3, "write denyoom fast", "string")
def getset(client, args):
    old = get_str(client.db, args[1], write=True)
    client.db.set(args[1], args[2])
    client.rewrites = [[b"SET", args[1], args[2]]]
    client.server.dirty += 1
    return resp.bulk(old)


@command("getdel", 2, "write fast", "string")
def getdel(client, args):
    old = get_str(client.db, args[1], write=True)
    if old is not None:
        client.db.delete(args[1])
        client.rewrites = [[b"DEL", args[1]]]
        client.server.dirty += 1
    return resp.bulk(old)


@command("getex", -2, "write fast", "string")
def getex(client, args):
    db = client.db
    key = args[1]
    value = get_str(db, key, write=True)
    when: int | None = None
    persist = False
    i = 2
    while i < len(args):
        opt = args[i].lower()
        if opt in (b"ex", b"px", b"exat", b"pxat") and i + 1 < len(args) and when is None and not persist:
            when = _expire_arg(opt, args[i + 1], "getex")
            i += 2
        elif opt == b"persist" and when is None:
            persist = True
            i += 1
        else:
            raise CommandError(SYNTAX)
    if value is None:
        return resp.null()
    if when is not None:
        if when <= now_ms():
            db.delete(key)
            client.rewrites = [[b"DEL", key]]
        else:
            db.set_expire(key, when)
            client.rewrites = [[b"PEXPIREAT", key, b"%d" % when]]
        client.server.dirty += 1
    elif persist and db.persist(key):
        client.rewrites = [[b"PERSIST", key]]
        client.server.dirty += 1
    return resp.bulk(value)


@command("getrange", 4, "readonly", "string")
def getrange(client, args):
    start, end = to_int(args[2]), to_int(args[3])
    value = get_str(client.db, args[1]) or b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return resp.bulk(b"")
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = max(n + end, 0)
    end = min(end, n - 1)
    if start > end or n == 0:
        return resp.bulk(b"")
    return resp.bulk(value[start : end + 1])


@command("substr", 4, "readonly", "string")
def substr(client, args):
    return getrange(client, args)


@command("setrange", 4, "write denyoom", "string")
def setrange(client, args):
    offset = to_int(args[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = client.db
    old = get_str(db, args[1], write=True)
    piece = args[3]
    if old is None and not piece:
        return resp.ZERO
    if offset + len(piece) > 512 * 1024 * 1024:
        raise CommandError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    base = old or b""
    if not piece:
        return resp.integer(len(base))
    if len(base) < offset:
        base = base + b"\x00" * (offset - len(base))
    new = base[:offset] + piece + base[offset + len(piece) :]
    db.set(args[1], new, keep_ttl=True)
    client.server.dirty += 1
    return resp.integer(len(new))


__all__ = ["get_str", "fmt_float"]


@command("setbit", 4, "write denyoom", "bitmap")
def setbit(client, args):
    try:
        offset = to_int(args[2])
    except CommandError:
        raise CommandError("ERR bit offset is not an integer or out of range") from None
    if not 0 <= offset < 2**32:
        raise CommandError("ERR bit offset is not an integer or out of range")
    if args[3] not in (b"0", b"1"):
        raise CommandError("ERR bit is not an integer or out of range")
    db = client.db
    value = bytearray(get_str(db, args[1], write=True) or b"")
    byte, bit = divmod(offset, 8)
    if len(value) <= byte:
        value.extend(b"\x00" * (byte + 1 - len(value)))
    mask = 0x80 >> bit
    old = 1 if value[byte] & mask else 0
    if args[3] == b"1":
        value[byte] |= mask
    else:
        value[byte] &= ~mask & 0xFF
    db.set(args[1], bytes(value), keep_ttl=True)
    client.server.dirty += 1
    return resp.integer(old)


@command("getbit", 3, "readonly fast", "bitmap")
def getbit(client, args):
    try:
        offset = to_int(args[2])
    except CommandError:
        raise CommandError("ERR bit offset is not an integer or out of range") from None
    if offset < 0:
        raise CommandError("ERR bit offset is not an integer or out of range")
    value = get_str(client.db, args[1]) or b""
    byte, bit = divmod(offset, 8)
    if byte >= len(value):
        return resp.ZERO
    return resp.ONE if value[byte] & (0x80 >> bit) else resp.ZERO


@command("bitcount", -2, "readonly", "bitmap")
def bitcount(client, args):
    value = get_str(client.db, args[1]) or b""
    if len(args) == 4:
        start, end = to_int(args[2]), to_int(args[3])
        n = len(value)
        if start < 0:
            start = max(n + start, 0)
        if end < 0:
            end = n + end
        value = value[start : end + 1] if start <= end else b""
    elif len(args) != 2:
        raise CommandError(SYNTAX)
    return resp.integer(sum(bin(b).count("1") for b in value))
