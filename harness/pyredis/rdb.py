"""Reading and writing RDB files the way redis-server 6.2, 7.0 and 8.2 do.

The reader accepts RDB versions 1-12 (tested on 9, 10 and 12 as written by real servers) with
every object type those servers write, including the compact encodings, LZF and integer-encoded
strings. Things the Python node cannot hold (streams, module values, hash field TTLs) are parsed
and dropped, each leaving a line in `RdbContents.skipped`, because refusing a whole full sync
over one stream key would leave a replica empty for ever.

The writer produces what every supported real server loads: version 9 by default, plain object
types (string, list, set, hash, zset_2), raw strings, expiry in ms, and a correct CRC-64.

Performance matters here (a full sync of a million keys goes through `load_rdb`), so the loader
is a single loop over a `bytes` buffer with index arithmetic and inlined fast paths for short
strings, rather than a tidy stream abstraction; see docs/pyredis-formats.md for figures.
"""

from __future__ import annotations

import gc
import math
import struct
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from harness.pyredis import encodings
from harness.pyredis.crc64 import crc64
from harness.pyredis.lzf import LzfError
from harness.pyredis.lzf import compress as lzf_compress
from harness.pyredis.lzf import decompress as lzf_decompress
from harness.pyredis.values import Value, ZSet

RDB_MAX_VERSION = 12

# Opcodes.
OP_SLOT_INFO = 0xF4
OP_FUNCTION2 = 0xF5
OP_FUNCTION_PRE_GA = 0xF6
OP_MODULE_AUX = 0xF7
OP_IDLE = 0xF8
OP_FREQ = 0xF9
OP_AUX = 0xFA
OP_RESIZEDB = 0xFB
OP_EXPIRETIME_MS = 0xFC
OP_EXPIRETIME = 0xFD
OP_SELECTDB = 0xFE
OP_EOF = 0xFF

# Object types.
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE_PRE_GA = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19
T_SET_LISTPACK = 20
T_STREAM_LISTPACKS_3 = 21
T_HASH_METADATA_PRE_GA = 22
T_HASH_LISTPACK_EX_PRE_GA = 23
T_HASH_METADATA = 24
T_HASH_LISTPACK_EX = 25

_TYPE_NAMES = {
    0: "string", 1: "list", 2: "set", 3: "zset", 4: "hash", 5: "zset_2", 6: "module (pre-GA)",
    7: "module", 9: "hash_zipmap", 10: "list_ziplist", 11: "set_intset", 12: "zset_ziplist",
    13: "hash_ziplist", 14: "list_quicklist", 15: "stream", 16: "hash_listpack",
    17: "zset_listpack", 18: "list_quicklist_2", 19: "stream_2", 20: "set_listpack",
    21: "stream_3", 22: "hash_metadata (pre-GA)", 23: "hash_listpack_ex (pre-GA)",
    24: "hash_metadata", 25: "hash_listpack_ex",
}

_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")
_I32 = struct.Struct("<i")
_I16 = struct.Struct("<h")
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


class RdbError(Exception):
    """The RDB data is not something we can load; the message names the problem and the offset."""


@dataclass
class RdbContents:
    version: int
    aux: dict[str, bytes]
    dbs: dict[int, dict[bytes, tuple[Value, int | None]]]
    # What was parsed but not kept (streams, module values, field TTLs, empty aggregates...).
    skipped: list[str] = field(default_factory=list)
    # FUNCTION2 library sources (7.0+), kept opaque so a server can replay FUNCTION LOAD.
    functions: list[bytes] = field(default_factory=list)


class _Dropped:
    """Returned by the object reader for values the Python node does not model."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Truncated(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Primitive readers: each takes (buf, pos) and returns (value, new_pos).


def _read_len(buf: bytes, pos: int) -> tuple[int, int]:
    b = buf[pos]
    t = b >> 6
    if t == 0:
        return b, pos + 1
    if t == 1:
        return ((b & 0x3F) << 8) | buf[pos + 1], pos + 2
    if b == 0x80:
        return _BE32.unpack_from(buf, pos + 1)[0], pos + 5
    if b == 0x81:
        return _BE64.unpack_from(buf, pos + 1)[0], pos + 9
    raise RdbError(f"bad length encoding byte 0x{b:02x} at offset {pos}")


def _read_string(buf: bytes, pos: int) -> tuple[bytes, int]:
    b = buf[pos]
    t = b >> 6
    if t == 0:
        end = pos + 1 + b
        if end > len(buf):
            raise _Truncated(pos)
        return buf[pos + 1 : end], end
    if t == 1:
        start = pos + 2
        end = start + (((b & 0x3F) << 8) | buf[pos + 1])
        if end > len(buf):
            raise _Truncated(pos)
        return buf[start:end], end
    if t == 2:
        n, start = _read_len(buf, pos)
        end = start + n
        if end > len(buf):
            raise _Truncated(pos)
        return buf[start:end], end
    if b == 0xC0:
        return b"%d" % ((buf[pos + 1] ^ 0x80) - 0x80), pos + 2
    if b == 0xC1:
        return b"%d" % _I16.unpack_from(buf, pos + 1)[0], pos + 3
    if b == 0xC2:
        return b"%d" % _I32.unpack_from(buf, pos + 1)[0], pos + 5
    if b == 0xC3:
        clen, p = _read_len(buf, pos + 1)
        olen, p = _read_len(buf, p)
        end = p + clen
        if end > len(buf):
            raise _Truncated(pos)
        try:
            return lzf_decompress(buf[p:end], olen), end
        except LzfError as exc:
            raise RdbError(f"{exc} (string at offset {pos})") from None
    raise RdbError(f"unknown string encoding 0x{b:02x} at offset {pos}")


def _read_string_double(buf: bytes, pos: int) -> tuple[float, int]:
    """The old text double of ZSET type 3 (length byte, then ASCII; 253-255 special)."""
    n = buf[pos]
    if n == 253:
        return math.nan, pos + 1
    if n == 254:
        return math.inf, pos + 1
    if n == 255:
        return -math.inf, pos + 1
    text = buf[pos + 1 : pos + 1 + n]
    try:
        return float(text), pos + 1 + n
    except ValueError:
        raise RdbError(f"bad text double {text!r} at offset {pos}") from None


def _score(s: bytes, where: int) -> float:
    try:
        return float(s)
    except ValueError:
        raise RdbError(f"bad zset score {s!r} in the encoding at offset {where}") from None


def _pairs(items: list[bytes], what: str, where: int) -> Iterable[tuple[bytes, bytes]]:
    if len(items) % 2:
        raise RdbError(f"{what} at offset {where} has an odd number of elements")
    it = iter(items)
    return zip(it, it, strict=True)


def _decode(fn: Any, blob: bytes, where: int) -> list[bytes]:
    try:
        result: list[bytes] = fn(blob)
        return result
    except encodings.EncodingError as exc:
        raise RdbError(f"{exc} (value at offset {where})") from None


def _skip_module_opcodes(buf: bytes, pos: int) -> int:
    """Skip opcode-tagged module data up to and including the EOF opcode."""
    while True:
        op, pos = _read_len(buf, pos)
        if op == 0:
            return pos
        if op in (1, 2):
            _, pos = _read_len(buf, pos)
        elif op == 3:
            pos += 4
        elif op == 4:
            pos += 8
        elif op == 5:
            _, pos = _read_string(buf, pos)
        else:
            raise RdbError(f"unknown module data opcode {op} at offset {pos}; cannot skip module value")
        if pos > len(buf):
            raise _Truncated(pos)


def _module_name(module_id: int) -> str:
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    name = "".join(charset[(module_id >> (64 - 6 * (i + 1))) & 63] for i in range(9))
    return f"{name} (encver {module_id & 1023})"


def _skip_stream(buf: bytes, pos: int, rdbtype: int) -> int:
    n, pos = _read_len(buf, pos)
    for _ in range(n):
        _, pos = _read_string(buf, pos)
        _, pos = _read_string(buf, pos)
    for _ in range(3):  # length, last_id ms, last_id seq
        _, pos = _read_len(buf, pos)
    if rdbtype >= T_STREAM_LISTPACKS_2:
        for _ in range(5):  # first_id, max_deleted_entry_id, entries_added
            _, pos = _read_len(buf, pos)
    groups, pos = _read_len(buf, pos)
    for _ in range(groups):
        _, pos = _read_string(buf, pos)
        for _ in range(2):
            _, pos = _read_len(buf, pos)
        if rdbtype >= T_STREAM_LISTPACKS_2:
            _, pos = _read_len(buf, pos)
        pel, pos = _read_len(buf, pos)
        for _ in range(pel):
            pos += 16 + 8
            _, pos = _read_len(buf, pos)
        consumers, pos = _read_len(buf, pos)
        for _ in range(consumers):
            _, pos = _read_string(buf, pos)
            pos += 8
            if rdbtype >= T_STREAM_LISTPACKS_3:
                pos += 8
            cpel, pos = _read_len(buf, pos)
            pos += 16 * cpel
            if pos > len(buf):
                raise _Truncated(pos)
    return pos


def read_object(
    buf: bytes, pos: int, rdbtype: int
) -> tuple[Value | _Dropped | _HashWithTtls, int]:
    """Decode one value of object type `rdbtype` starting at `pos`.

    Shared by the RDB loader and RESTORE. Raises RdbError / _Truncated / IndexError /
    struct.error on malformed input; callers translate those into their own error.
    """
    rs = _read_string
    if rdbtype == T_STRING:
        return rs(buf, pos)
    if rdbtype in (T_LIST, T_SET, T_HASH, T_ZSET, T_ZSET_2):
        start = pos
        n, pos = _read_len(buf, pos)
        if rdbtype == T_LIST:
            elems: deque[bytes] = deque()
            for _ in range(n):
                s, pos = rs(buf, pos)
                elems.append(s)
            return elems, pos
        if rdbtype == T_SET:
            members = set()
            for _ in range(n):
                s, pos = rs(buf, pos)
                members.add(s)
            return members, pos
        if rdbtype == T_HASH:
            h = {}
            for _ in range(n):
                f, pos = rs(buf, pos)
                v, pos = rs(buf, pos)
                h[f] = v
            return h, pos
        pairs = []
        for _ in range(n):
            m, pos = rs(buf, pos)
            if rdbtype == T_ZSET_2:
                score = _F64.unpack_from(buf, pos)[0]
                pos += 8
            else:
                score, pos = _read_string_double(buf, pos)
            if score != score:
                raise RdbError(f"zset at offset {start} has a NaN score")
            pairs.append((m, score))
        return _zset(pairs), pos
    if rdbtype in (T_SET_INTSET, T_SET_LISTPACK):
        where = pos
        blob, pos = rs(buf, pos)
        fn = encodings.intset_decode if rdbtype == T_SET_INTSET else encodings.listpack_decode
        return set(_decode(fn, blob, where)), pos
    if rdbtype in (T_HASH_LISTPACK, T_HASH_ZIPLIST, T_HASH_ZIPMAP):
        where = pos
        blob, pos = rs(buf, pos)
        fn = {
            T_HASH_LISTPACK: encodings.listpack_decode,
            T_HASH_ZIPLIST: encodings.ziplist_decode,
            T_HASH_ZIPMAP: encodings.zipmap_decode,
        }[rdbtype]
        return dict(_pairs(_decode(fn, blob, where), "hash", where)), pos
    if rdbtype in (T_ZSET_LISTPACK, T_ZSET_ZIPLIST):
        where = pos
        blob, pos = rs(buf, pos)
        fn = encodings.listpack_decode if rdbtype == T_ZSET_LISTPACK else encodings.ziplist_decode
        items = _decode(fn, blob, where)
        return _zset((m, _score(s, where)) for m, s in _pairs(items, "zset", where)), pos
    if rdbtype == T_LIST_ZIPLIST:
        where = pos
        blob, pos = rs(buf, pos)
        return deque(_decode(encodings.ziplist_decode, blob, where)), pos
    if rdbtype == T_LIST_QUICKLIST:
        n, pos = _read_len(buf, pos)
        lst: deque[bytes] = deque()
        for _ in range(n):
            where = pos
            blob, pos = rs(buf, pos)
            lst.extend(_decode(encodings.ziplist_decode, blob, where))
        return lst, pos
    if rdbtype == T_LIST_QUICKLIST_2:
        n, pos = _read_len(buf, pos)
        lst = deque()
        for _ in range(n):
            container, pos = _read_len(buf, pos)
            where = pos
            blob, pos = rs(buf, pos)
            if container == 1:
                lst.append(blob)
            elif container == 2:
                lst.extend(_decode(encodings.listpack_decode, blob, where))
            else:
                raise RdbError(f"quicklist node at offset {where} has unknown container {container}")
        return lst, pos
    if rdbtype in (T_HASH_METADATA, T_HASH_METADATA_PRE_GA):
        if rdbtype == T_HASH_METADATA:
            pos += 8
        n, pos = _read_len(buf, pos)
        h = {}
        ttls = 0
        for _ in range(n):
            ttl, pos = _read_len(buf, pos)
            f, pos = rs(buf, pos)
            v, pos = rs(buf, pos)
            h[f] = v
            ttls += ttl != 0
        return _HashWithTtls(h, ttls), pos
    if rdbtype in (T_HASH_LISTPACK_EX, T_HASH_LISTPACK_EX_PRE_GA):
        if rdbtype == T_HASH_LISTPACK_EX:
            pos += 8
        where = pos
        blob, pos = rs(buf, pos)
        items = _decode(encodings.listpack_decode, blob, where)
        if len(items) % 3:
            raise RdbError(f"hash listpack with TTLs at offset {where} is not made of triplets")
        h = {}
        ttls = 0
        for i in range(0, len(items), 3):
            h[items[i]] = items[i + 1]
            ttls += items[i + 2] != b"0"
        return _HashWithTtls(h, ttls), pos
    if rdbtype in (T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3):
        return _Dropped("stream (streams are not modelled; key dropped)"), _skip_stream(
            buf, pos, rdbtype
        )
    if rdbtype == T_MODULE_2:
        module_id, pos = _read_len(buf, pos)
        pos = _skip_module_opcodes(buf, pos)
        return _Dropped(f"module value of {_module_name(module_id)} (key dropped)"), pos
    if rdbtype == T_MODULE_PRE_GA:
        raise RdbError(f"pre-release module value (type 6) at offset {pos} cannot be skipped")
    raise RdbError(f"unknown object type {rdbtype} at offset {pos - 1}")


class _HashWithTtls:
    """A hash read from types 22-25: the fields, plus how many carried a TTL that we drop."""

    __slots__ = ("hash", "ttls")

    def __init__(self, h: dict[bytes, bytes], ttls: int) -> None:
        self.hash = h
        self.ttls = ttls


def _zset(pairs: Iterable[tuple[bytes, float]]) -> ZSet:
    """Build a ZSet in one sort instead of one SortedList insertion per member (much faster
    for the many small zsets of a big RDB); a repeated member keeps its last score, as ZADD."""
    z = ZSet()
    z.scores = dict(pairs)
    z.index = SortedList(zip(z.scores.values(), z.scores.keys(), strict=True))
    return z


def _is_empty(value: Value) -> bool:
    return not isinstance(value, bytes) and len(value) == 0


# ---------------------------------------------------------------------------------------------
# Loader


def load_rdb(data: bytes | bytearray | memoryview, verify_checksum: bool = True) -> RdbContents:
    """Parse a whole RDB file.

    The CRC is checked when the stored value is non-zero (zero means the writer disabled it,
    exactly as Redis treats it). `verify_checksum=False` skips it for callers that already
    trust the bytes and want the time back (e.g. a benchmark isolating the parser).

    The cyclic garbage collector is paused while parsing: the loader allocates millions of
    containers and no reference cycles, and the collector's repeated scans of that growing
    heap cost about a third of the load time of a dataset of small aggregates.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _load_rdb(data, verify_checksum)
    finally:
        if was_enabled:
            gc.enable()


def _load_rdb(data: bytes | bytearray | memoryview, verify_checksum: bool) -> RdbContents:
    buf = bytes(data)
    n = len(buf)
    if n < 9 or buf[:5] != b"REDIS":
        raise RdbError("bad magic at offset 0: not an RDB file (expected 'REDIS' + 4 digits)")
    try:
        version = int(buf[5:9])
    except ValueError:
        raise RdbError(f"bad RDB version field {buf[5:9]!r} at offset 5") from None
    if not 1 <= version <= RDB_MAX_VERSION:
        raise RdbError(
            f"unsupported RDB version {version} at offset 5 (this loader handles 1-{RDB_MAX_VERSION})"
        )
    out = RdbContents(version=version, aux={}, dbs={})
    skipped = out.skipped
    dbs = out.dbs
    db: dict[bytes, tuple[Value, int | None]] = dbs.setdefault(0, {})
    dbid = 0
    pos = 9
    expire: int | None = None
    rs = _read_string
    rl = _read_len
    lzf = lzf_decompress
    u64 = _U64.unpack_from
    i64 = _I64.unpack_from
    obj_start = pos
    try:
        while True:
            obj_start = pos
            t = buf[pos]
            pos += 1
            if t == T_STRING:
                # Inlined fast path: key and value both short raw strings.
                b = buf[pos]
                if b < 64:
                    kend = pos + 1 + b
                    key = buf[pos + 1 : kend]
                    pos = kend
                else:
                    key, pos = rs(buf, pos)
                b = buf[pos]
                if b < 64:
                    vend = pos + 1 + b
                    val = buf[pos + 1 : vend]
                elif b < 128:
                    vstart = pos + 2
                    vend = vstart + (((b & 0x3F) << 8) | buf[pos + 1])
                    val = buf[vstart:vend]
                elif b == 0xC3:
                    # LZF: <len compressed> <len original> <bytes>; both lengths usually short.
                    p = pos + 1
                    c = buf[p]
                    if c < 64:
                        clen = c
                        p += 1
                    elif c < 128:
                        clen = ((c & 0x3F) << 8) | buf[p + 1]
                        p += 2
                    else:
                        clen, p = rl(buf, p)
                    c = buf[p]
                    if c < 64:
                        olen = c
                        p += 1
                    elif c < 128:
                        olen = ((c & 0x3F) << 8) | buf[p + 1]
                        p += 2
                    else:
                        olen, p = rl(buf, p)
                    vend = p + clen
                    if vend > n:
                        raise _Truncated(pos)
                    val = lzf(buf[p:vend], olen)
                else:
                    val, vend = rs(buf, pos)
                if vend > n:
                    raise _Truncated(pos)
                db[key] = (val, expire)
                pos = vend
                expire = None
                continue
            if t < 0xF4:
                if t not in _TYPE_NAMES:
                    raise RdbError(f"unknown object type {t} at offset {obj_start}")
                key, pos = rs(buf, pos)
                obj, pos = read_object(buf, pos, t)
                if isinstance(obj, _Dropped):
                    skipped.append(f"db {dbid} key {key!r}: {obj.reason}")
                elif isinstance(obj, _HashWithTtls):
                    if obj.ttls:
                        skipped.append(
                            f"db {dbid} key {key!r}: {obj.ttls} hash field TTL(s) dropped, fields kept"
                        )
                    if obj.hash:
                        db[key] = (obj.hash, expire)
                elif _is_empty(obj):
                    skipped.append(f"db {dbid} key {key!r}: empty {_TYPE_NAMES.get(t, t)} dropped")
                else:
                    db[key] = (obj, expire)
                expire = None
                continue
            if t == OP_EXPIRETIME_MS:
                expire = i64(buf, pos)[0]
                pos += 8
            elif t == OP_SELECTDB:
                dbid, pos = rl(buf, pos)
                db = dbs.setdefault(dbid, {})
            elif t == OP_RESIZEDB:
                _, pos = rl(buf, pos)
                _, pos = rl(buf, pos)
            elif t == OP_AUX:
                k, pos = rs(buf, pos)
                v, pos = rs(buf, pos)
                out.aux[k.decode("utf-8", "replace")] = v
            elif t == OP_EOF:
                break
            elif t == OP_EXPIRETIME:
                expire = _I32.unpack_from(buf, pos)[0] * 1000
                pos += 4
            elif t == OP_IDLE:
                _, pos = rl(buf, pos)
            elif t == OP_FREQ:
                pos += 1
            elif t == OP_FUNCTION2:
                body, pos = rs(buf, pos)
                out.functions.append(body)
            elif t == OP_FUNCTION_PRE_GA:
                name, pos = rs(buf, pos)
                _, pos = rs(buf, pos)  # engine
                has_desc, pos = rl(buf, pos)
                if has_desc:
                    _, pos = rs(buf, pos)
                _, pos = rs(buf, pos)
                skipped.append(f"pre-release FUNCTION record {name!r} dropped")
            elif t == OP_MODULE_AUX:
                module_id, pos = rl(buf, pos)
                when_op, pos = rl(buf, pos)
                if when_op != 2:
                    raise RdbError(
                        f"module aux at offset {obj_start}: expected 'when' opcode 2, got {when_op}"
                    )
                _, pos = rl(buf, pos)
                pos = _skip_module_opcodes(buf, pos)
                skipped.append(f"module aux data of {_module_name(module_id)} skipped")
            elif t == OP_SLOT_INFO:
                for _ in range(3):
                    _, pos = rl(buf, pos)
            else:  # pragma: no cover - every byte value is handled above
                raise RdbError(f"unknown opcode 0x{t:02x} at offset {obj_start}")
            if pos > n:
                raise _Truncated(pos)
    except LzfError as exc:
        raise RdbError(f"{exc} (record at offset {obj_start})") from None
    except (_Truncated, IndexError, struct.error):
        raise RdbError(
            f"truncated RDB: data ends at offset {n} inside the record starting at offset {obj_start}"
        ) from None
    eof = pos  # offset just past the 0xFF opcode
    if version >= 5:
        if n < eof + 8:
            raise RdbError(f"truncated RDB: checksum missing after EOF opcode at offset {eof - 1}")
        stored = u64(buf, eof)[0]
        if n > eof + 8:
            raise RdbError(f"trailing garbage after the checksum at offset {eof + 8}")
        if stored and verify_checksum:
            actual = crc64(0, memoryview(buf)[:eof])
            if actual != stored:
                raise RdbError(
                    f"bad checksum at offset {eof}: stored 0x{stored:016x}, computed 0x{actual:016x}"
                )
    elif n > eof:
        raise RdbError(f"trailing garbage after EOF opcode at offset {eof}")
    for empty in [i for i, keys in dbs.items() if not keys]:
        del dbs[empty]
    return out


# ---------------------------------------------------------------------------------------------
# Writer

_LEN1 = [bytes((i,)) for i in range(64)]


def encode_len(n: int) -> bytes:
    if n < 64:
        return _LEN1[n]
    if n < 16384:
        return bytes((0x40 | (n >> 8), n & 0xFF))
    if n <= 0xFFFFFFFF:
        return b"\x80" + _BE32.pack(n)
    return b"\x81" + _BE64.pack(n)


def encode_string(s: bytes) -> bytes:
    """Raw length-prefixed string (always accepted by every loader)."""
    n = len(s)
    if n < 64:
        return _LEN1[n] + s
    return encode_len(n) + s


def encode_string_compact(s: bytes) -> bytes:
    """Integer form for canonical int32 decimals (as Redis writes aux numbers), else raw."""
    if 0 < len(s) <= 11:
        try:
            v = int(s)
        except ValueError:
            v = None
        if v is not None and b"%d" % v == s:
            if -128 <= v <= 127:
                return b"\xc0" + struct.pack("<b", v)
            if -32768 <= v <= 32767:
                return b"\xc1" + _I16.pack(v)
            if -(1 << 31) <= v < (1 << 31):
                return b"\xc2" + _I32.pack(v)
    return encode_string(s)


def encode_string_lzf(s: bytes) -> bytes:
    """LZF form when it saves at least 4 bytes (Redis's own rule), else raw."""
    n = len(s)
    if n > 20:
        packed = lzf_compress(s)
        if packed is not None and len(packed) <= n - 4:
            return b"\xc3" + encode_len(len(packed)) + encode_len(n) + packed
    return encode_string(s)


def encode_object(value: Value, compress: bool = False) -> tuple[int, bytes]:
    """(object type byte, serialized value) using the plain types every version loads."""
    es = encode_string_lzf if compress else encode_string
    if isinstance(value, bytes):
        return T_STRING, es(value)
    if isinstance(value, deque):
        return T_LIST, encode_len(len(value)) + b"".join(map(es, value))
    if isinstance(value, set):
        return T_SET, encode_len(len(value)) + b"".join(map(es, value))
    if isinstance(value, dict):
        parts = [encode_len(len(value))]
        for f, v in value.items():
            parts.append(es(f))
            parts.append(es(v))
        return T_HASH, b"".join(parts)
    if isinstance(value, ZSet):
        parts = [encode_len(len(value))]
        pack = _F64.pack
        for score, member in reversed(value.index):  # highest first, as Redis writes
            parts.append(es(member))
            parts.append(pack(score))
        return T_ZSET_2, b"".join(parts)
    raise TypeError(f"not a Redis value: {type(value).__name__}")


_REDIS_VER_FOR = {9: "6.2.14", 10: "7.0.15", 11: "7.2.6", 12: "8.2.3"}


def _aux_bytes(v: bytes | int | str) -> bytes:
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"1" if v else b"0"
    if isinstance(v, int):
        return b"%d" % v
    if isinstance(v, str):
        return v.encode()
    raise TypeError(f"aux value must be bytes, int or str, not {type(v).__name__}")


def dump_rdb(
    dbs: Mapping[int, Mapping[bytes, tuple[Value, int | None]]],
    aux: Mapping[str, bytes | int | str] | None = None,
    version: int = 9,
    checksum: bool = True,
    compress: bool = False,
) -> bytes:
    """Serialize `dbs` as an RDB file that real 6.2, 7.0 and 8.2 servers load.

    Standard aux fields come first (redis-ver, redis-bits, ctime, used-mem), then the caller's
    (repl-id, repl-offset, repl-stream-db...; a caller value overrides a standard one), then the
    AOF marker. Empty aggregates are left out, since no real server keeps one.
    `checksum=False` writes the all-zero "disabled" checksum Redis accepts, to save time on
    huge transfers where the transport is trusted. `compress=True` LZF-compresses strings
    longer than 20 bytes like `rdbcompression yes` (smaller, but much slower in pure Python).
    """
    if not 1 <= version <= RDB_MAX_VERSION:
        raise ValueError(f"cannot write RDB version {version} (supported: 1-{RDB_MAX_VERSION})")
    fields: dict[str, bytes] = {
        "redis-ver": _REDIS_VER_FOR.get(version, "7.0.15").encode(),
        "redis-bits": b"64",
        "ctime": b"%d" % int(time.time()),
        "used-mem": b"0",
    }
    for k, v in (aux or {}).items():
        fields[k] = _aux_bytes(v)
    marker = "aof-preamble" if version < 10 else "aof-base"
    if "aof-base" not in fields and "aof-preamble" not in fields:
        fields[marker] = b"0"
    parts: list[bytes] = [b"REDIS%04d" % version]
    for k, v in fields.items():
        parts.append(b"\xfa" + encode_string(k.encode()) + encode_string_compact(v))
    es = encode_string_lzf if compress else encode_string
    q = struct.Struct("<q").pack
    len1 = _LEN1
    for dbid in sorted(dbs):
        keys = dbs[dbid]
        body: list[bytes] = []
        add = body.append
        nkeys = nexp = 0
        for key, (value, expire) in keys.items():
            try:
                if expire is not None:
                    add(b"\xfc" + q(expire))
                    nexp += 1
                if type(value) is bytes:
                    kl = len(key)
                    vl = len(value)
                    if kl < 64 and vl < 16384 and not compress:
                        # Hot path for big string datasets: no helper calls, one concatenation.
                        vlen = len1[vl] if vl < 64 else bytes((0x40 | (vl >> 8), vl & 0xFF))
                        add(b"".join((b"\x00", len1[kl], key, vlen, value)))
                    else:
                        add(b"\x00" + es(key) + es(value))
                else:
                    if _is_empty(value):
                        if expire is not None:
                            body.pop()
                            nexp -= 1
                        continue
                    t, payload = encode_object(value, compress)
                    add(bytes((t,)) + es(key) + payload)
                nkeys += 1
            except (TypeError, struct.error) as exc:
                raise TypeError(f"db {dbid} key {key!r}: cannot serialize: {exc}") from None
        if not nkeys:
            continue
        parts.append(b"\xfe" + encode_len(dbid) + b"\xfb" + encode_len(nkeys) + encode_len(nexp))
        parts.append(b"".join(body))
    parts.append(b"\xff")
    blob = b"".join(parts)
    crc = crc64(0, blob) if checksum else 0
    return blob + _U64.pack(crc)
