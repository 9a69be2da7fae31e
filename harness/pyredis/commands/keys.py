"""Generic key commands: DEL, EXPIRE family, RENAME, SCAN, SELECT, FLUSH*, DUMP/RESTORE."""

from __future__ import annotations

import fnmatch
import itertools
import random

from harness.pyredis import resp
from harness.pyredis.commands import SYNTAX, CommandError, command, to_int
from harness.pyredis.keyspace import copy_value, now_ms
from harness.pyredis.values import type_name


def glob_match(pattern: bytes, key: bytes) -> bool:
    return fnmatch.fnmatchcase(key.decode("latin-1"), pattern.decode("latin-1"))


@command("del", -2, "write", "keyspace")
def del_(client, args):
    db = client.db
    count = 0
    for key in args[1:]:
        if db.lookup_write(key) is not None and db.delete(key):
            count += 1
    if count:
        client.server.dirty += count
    return resp.integer(count)


@command("unlink", -2, "write fast", "keyspace")
def unlink(client, args):
    return del_(client, args)


@command("exists", -2, "readonly fast", "keyspace")
def exists(client, args):
    db = client.db
    return resp.integer(sum(1 for key in args[1:] if db.lookup(key) is not None))


@command("touch", -2, "readonly fast", "keyspace")
def touch(client, args):
    return exists(client, args)


def _expire_generic(client, args, unit_ms: int, absolute: bool) -> bytes:
    db = client.db
    key = args[1]
    when = to_int(args[2])
    nx = xx = gt = lt = False
    for opt in args[3:]:
        o = opt.lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            raise CommandError(f"ERR Unsupported option {opt.decode(errors='replace')}")
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    name = args[0].decode().lower()
    try:
        when_ms = when * unit_ms
        if not absolute:
            when_ms += now_ms()
        if not -(2**63) <= when_ms < 2**63:
            raise OverflowError
    except OverflowError:
        raise CommandError(f"ERR invalid expire time in '{name}' command") from None
    if db.lookup_write(key) is None:
        return resp.ZERO
    current = db.expires.get(key)
    if nx and current is not None:
        return resp.ZERO
    if xx and current is None:
        return resp.ZERO
    if gt and (current is None or when_ms <= current):
        return resp.ZERO
    if lt and current is not None and when_ms >= current:
        return resp.ZERO
    if when_ms <= now_ms() and not client.is_master_link:
        db.delete(key)
        client.rewrites = [[b"DEL", key]]
    else:
        db.set_expire(key, when_ms)
        db.touch(key)
        client.rewrites = [[b"PEXPIREAT", key, b"%d" % when_ms]]
    client.server.dirty += 1
    return resp.ONE


@command("expire", -3, "write fast", "keyspace")
def expire(client, args):
    return _expire_generic(client, args, 1000, False)


@command("pexpire", -3, "write fast", "keyspace")
def pexpire(client, args):
    return _expire_generic(client, args, 1, False)


@command("expireat", -3, "write fast", "keyspace")
def expireat(client, args):
    return _expire_generic(client, args, 1000, True)


@command("pexpireat", -3, "write fast", "keyspace")
def pexpireat(client, args):
    return _expire_generic(client, args, 1, True)


@command("persist", 2, "write fast", "keyspace")
def persist(client, args):
    db = client.db
    if db.lookup_write(args[1]) is None or not db.persist(args[1]):
        return resp.ZERO
    db.touch(args[1])
    client.server.dirty += 1
    return resp.ONE


def _ttl(client, key: bytes, ms: bool) -> bytes:
    db = client.db
    if db.lookup(key) is None:
        return resp.integer(-2)
    left = db.ttl_ms(key)
    if left is None:
        return resp.integer(-1)
    left = max(left, 0)
    return resp.integer(left if ms else (left + 500) // 1000)


@command("ttl", 2, "readonly fast", "keyspace")
def ttl(client, args):
    return _ttl(client, args[1], False)


@command("pttl", 2, "readonly fast", "keyspace")
def pttl(client, args):
    return _ttl(client, args[1], True)


@command("expiretime", 2, "readonly fast", "keyspace")
def expiretime(client, args):
    db = client.db
    if db.lookup(args[1]) is None:
        return resp.integer(-2)
    when = db.expires.get(args[1])
    return resp.integer(-1 if when is None else when // 1000)


@command("pexpiretime", 2, "readonly fast", "keyspace")
def pexpiretime(client, args):
    db = client.db
    if db.lookup(args[1]) is None:
        return resp.integer(-2)
    when = db.expires.get(args[1])
    return resp.integer(-1 if when is None else when)


@command("type", 2, "readonly fast", "keyspace")
def type_(client, args):
    value = client.db.lookup(args[1])
    return resp.simple("none" if value is None else type_name(value))


def _rename(client, args, nx: bool) -> bytes:
    db = client.db
    src, dst = args[1], args[2]
    value = db.lookup_write(src)
    if value is None:
        raise CommandError("ERR no such key")
    if nx and db.lookup_write(dst) is not None:
        return resp.ZERO
    when = db.expires.get(src)
    if src != dst:
        db.delete(src)
        db.delete(dst)
        db.set(dst, value)
        if when is not None:
            db.set_expire(dst, when)
    client.server.dirty += 1
    return resp.ONE if nx else resp.OK


@command("rename", 3, "write", "keyspace")
def rename(client, args):
    return _rename(client, args, False)


@command("renamenx", 3, "write fast", "keyspace")
def renamenx(client, args):
    return _rename(client, args, True)


@command("keys", 2, "readonly", "keyspace")
def keys(client, args):
    db = client.db
    pattern = args[1]
    if pattern == b"*":
        out = [k for k in list(db.data) if db.lookup(k) is not None]
    else:
        out = [k for k in list(db.data) if glob_match(pattern, k) and db.lookup(k) is not None]
    return resp.array(out)


_scan_ids = itertools.count(1)
_SCANS: dict[int, list[bytes]] = {}


def parse_scan_options(args: list[bytes], start: int) -> tuple[bytes | None, int, bytes | None]:
    match: bytes | None = None
    count = 10
    kind: bytes | None = None
    i = start
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise CommandError(SYNTAX)
        if opt == b"match":
            match = args[i + 1]
        elif opt == b"count":
            count = to_int(args[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif opt == b"type":
            kind = args[i + 1].lower()
        else:
            raise CommandError(SYNTAX)
        i += 2
    return match, count, kind


@command("scan", -2, "readonly", "keyspace")
def scan(client, args):
    """Cursor = (snapshot id << 32) | position in a key-list snapshot taken at cursor 0.

    Keys present for the whole iteration are always returned, as SCAN guarantees.
    """
    try:
        cursor = int(args[1])
        if cursor < 0:
            raise ValueError
    except ValueError:
        raise CommandError("ERR invalid cursor") from None
    match, count, kind = parse_scan_options(args, 2)
    db = client.db
    if cursor == 0:
        snap_id = next(_scan_ids)
        _SCANS[snap_id] = list(db.data)
        while len(_SCANS) > 64:
            del _SCANS[next(iter(_SCANS))]
        pos = 0
    else:
        snap_id, pos = cursor >> 32, cursor & 0xFFFFFFFF
    snapshot = _SCANS.get(snap_id)
    if snapshot is None:
        return resp.array([b"0", []])
    end = min(pos + count, len(snapshot))
    out = []
    for key in snapshot[pos:end]:
        value = db.lookup(key)
        if value is None:
            continue
        if match is not None and not glob_match(match, key):
            continue
        if kind is not None and type_name(value).encode() != kind:
            continue
        out.append(key)
    if end >= len(snapshot):
        _SCANS.pop(snap_id, None)
        next_cursor = b"0"
    else:
        next_cursor = b"%d" % ((snap_id << 32) | end)
    return resp.array([next_cursor, out])


@command("randomkey", 1, "readonly", "keyspace")
def randomkey(client, args):
    db = client.db
    for _ in range(100):
        if not db.data:
            return resp.null()
        key = random.choice(list(db.data)) if len(db.data) < 10000 else next(itertools.islice(iter(db.data), random.randrange(min(len(db.data), 10000)), None))
        if db.lookup(key) is not None:
            return resp.bulk(key)
    return resp.null()


@command("dbsize", 1, "readonly fast", "keyspace")
def dbsize(client, args):
    return resp.integer(len(client.db.data))


@command("select", 2, "loading stale fast", "connection")
def select(client, args):
    try:
        index = to_int(args[1], "ERR invalid DB index")
    except CommandError:
        raise
    dbs = client.server.keyspace.dbs
    if not 0 <= index < len(dbs):
        raise CommandError("ERR DB index is out of range")
    client.db = dbs[index]
    return resp.OK


def _flush_args(args: list[bytes]) -> None:
    if len(args) > 2 or (len(args) == 2 and args[1].lower() not in (b"async", b"sync")):
        raise CommandError(SYNTAX)


@command("flushdb", -1, "write", "keyspace dangerous")
def flushdb(client, args):
    _flush_args(args)
    client.db.clear()
    client.server.dirty += 1
    return resp.OK


@command("flushall", -1, "write", "keyspace dangerous")
def flushall(client, args):
    _flush_args(args)
    client.server.keyspace.flushall()
    client.server.dirty += 1
    if client.server.config.save_rules() and not client.is_master_link:
        client.server.persistence.save()
        client.server.dirty += 1
    return resp.OK


@command("swapdb", 3, "write fast", "keyspace dangerous")
def swapdb(client, args):
    dbs = client.server.keyspace.dbs
    a = to_int(args[1], "ERR invalid first DB index")
    b = to_int(args[2], "ERR invalid second DB index")
    if not (0 <= a < len(dbs) and 0 <= b < len(dbs)):
        raise CommandError("ERR DB index is out of range")
    da, db_ = dbs[a], dbs[b]
    da.touch_all()
    db_.touch_all()
    da.data, db_.data = db_.data, da.data
    da.expires, db_.expires = db_.expires, da.expires
    da.heap, db_.heap = db_.heap, da.heap
    client.server.dirty += 1
    return resp.OK


@command("move", 3, "write fast", "keyspace")
def move(client, args):
    dbs = client.server.keyspace.dbs
    index = to_int(args[2])
    if not 0 <= index < len(dbs):
        raise CommandError("ERR DB index is out of range")
    src = client.db
    dst = dbs[index]
    if src is dst:
        raise CommandError("ERR source and destination objects are the same")
    value = src.lookup_write(args[1])
    if value is None or dst.lookup_write(args[1]) is not None:
        return resp.ZERO
    when = src.expires.get(args[1])
    src.delete(args[1])
    dst.set(args[1], value)
    if when is not None:
        dst.set_expire(args[1], when)
    client.server.dirty += 1
    return resp.ONE


@command("copy", -3, "write denyoom", "keyspace")
def copy(client, args):
    dbs = client.server.keyspace.dbs
    dst_db = client.db
    replace = False
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < len(args):
            index = to_int(args[i + 1])
            if not 0 <= index < len(dbs):
                raise CommandError("ERR DB index is out of range")
            dst_db = dbs[index]
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    value = client.db.lookup_write(args[1])
    if value is None:
        return resp.ZERO
    if dst_db is client.db and args[1] == args[2]:
        raise CommandError("ERR source and destination objects are the same")
    if dst_db.lookup_write(args[2]) is not None and not replace:
        return resp.ZERO
    when = client.db.expires.get(args[1])
    dst_db.delete(args[2])
    dst_db.set(args[2], copy_value(value))
    if when is not None:
        dst_db.set_expire(args[2], when)
    client.server.dirty += 1
    return resp.ONE


@command("dump", 2, "readonly", "keyspace")
def dump(client, args):
    from harness.pyredis import dump as dump_mod

    value = client.db.lookup(args[1])
    if value is None:
        return resp.null()
    return resp.bulk(dump_mod.dump_payload(value))


@command("restore", -4, "write denyoom", "keyspace dangerous")
def restore(client, args):
    from harness.pyredis import dump as dump_mod

    db = client.db
    key = args[1]
    ttl = to_int(args[2])
    replace = absttl = False
    i = 4
    while i < len(args):
        opt = args[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"absttl":
            absttl = True
        elif opt == b"idletime" and i + 1 < len(args):
            if to_int(args[i + 1]) < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif opt == b"freq" and i + 1 < len(args):
            freq = to_int(args[i + 1])
            if not 0 <= freq <= 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    if not replace and db.lookup_write(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    try:
        value = dump_mod.restore_payload(args[3])
    except dump_mod.DumpPayloadError as exc:
        text = str(exc)
        raise CommandError(text if text.startswith("ERR") else f"ERR {text}") from None
    when = None
    if ttl:
        when = ttl if absttl else now_ms() + ttl
    existed = db.delete(key)
    if when is not None and when <= now_ms() and not client.is_master_link:
        if existed:
            client.rewrites = [[b"DEL", key]]
            client.server.dirty += 1
        return resp.OK
    db.set(key, value)
    if when is not None:
        db.set_expire(key, when)
        if not absttl:
            client.rewrites = [[b"RESTORE", key, b"%d" % when, args[3], b"ABSTTL"] + ([b"REPLACE"] if replace else [])]
    client.server.dirty += 1
    return resp.OK
