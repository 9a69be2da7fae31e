"""Redis's compact in-memory encodings, as they appear inside RDB strings and DUMP payloads.

Decoders for listpack (7.0+), ziplist (≤ 6.2), intset and zipmap (≤ 2.4), and a listpack
encoder. Every decoder returns plain `bytes` elements: integers come back as their canonical
decimal form, because that is what the value would be at the Redis API (and what DEBUG DIGEST
hashes). They validate the structure Redis's shallow sanitizer checks (total size, terminator)
and raise `EncodingError` with the offset of the first inconsistency rather than an IndexError.
"""

from __future__ import annotations

import struct

_I16 = struct.Struct("<h")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_BE32 = struct.Struct(">I")


class EncodingError(ValueError):
    """A compact encoding blob is malformed."""


_SMALL_INTS = [b"%d" % i for i in range(128)]


def _backlen_size(n: int) -> int:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


def listpack_decode(buf: bytes) -> list[bytes]:
    """All elements of a listpack, integers rendered as decimal bytes."""
    total = len(buf)
    if total < 7:
        raise EncodingError(f"listpack too short ({total} bytes)")
    if _U32.unpack_from(buf, 0)[0] != total:
        raise EncodingError(
            f"listpack header says {_U32.unpack_from(buf, 0)[0]} bytes, blob has {total}"
        )
    if buf[-1] != 0xFF:
        raise EncodingError("listpack does not end with 0xFF")
    out: list[bytes] = []
    append = out.append
    pos = 6
    end = total - 1
    small = _SMALL_INTS
    try:
        while pos < end:
            b = buf[pos]
            if 0x80 <= b < 0xC0:  # short string: by far the most common entry
                ln = b & 0x3F
                append(buf[pos + 1 : pos + 1 + ln])
                pos += ln + 2  # encoding byte + data + 1-byte backlen
                continue
            if b < 0x80:
                append(small[b])
                pos += 2
                continue
            if b < 0xE0:
                v = ((b & 0x1F) << 8) | buf[pos + 1]
                if v >= 4096:
                    v -= 8192
                append(b"%d" % v)
                size = 2
            elif b < 0xF0:
                ln = ((b & 0x0F) << 8) | buf[pos + 1]
                append(buf[pos + 2 : pos + 2 + ln])
                size = 2 + ln
            elif b == 0xF0:
                ln = _U32.unpack_from(buf, pos + 1)[0]
                append(buf[pos + 5 : pos + 5 + ln])
                size = 5 + ln
            elif b == 0xF1:
                append(b"%d" % _I16.unpack_from(buf, pos + 1)[0])
                size = 3
            elif b == 0xF2:
                append(b"%d" % int.from_bytes(buf[pos + 1 : pos + 4], "little", signed=True))
                size = 4
            elif b == 0xF3:
                append(b"%d" % _I32.unpack_from(buf, pos + 1)[0])
                size = 5
            elif b == 0xF4:
                append(b"%d" % _I64.unpack_from(buf, pos + 1)[0])
                size = 9
            else:
                raise EncodingError(f"listpack: bad entry encoding 0x{b:02x} at offset {pos}")
            pos += size + (1 if size < 128 else _backlen_size(size))
    except struct.error as exc:
        raise EncodingError(f"listpack entry at offset {pos} runs past the end") from exc
    if pos != end:
        raise EncodingError(f"listpack entry at offset {pos} runs past the end")
    return out


def _canonical_int(s: bytes) -> int | None:
    """The int64 value of `s` if `s` is its canonical decimal form (Redis's lpStringToInt64 rule)."""
    if not s or len(s) > 20:
        return None
    c = s[0]
    if not (48 <= c <= 57 or c == 45):
        return None
    try:
        v = int(s)
    except ValueError:
        return None
    if b"%d" % v != s or not -(1 << 63) <= v < (1 << 63):
        return None
    return v


def _backlen_bytes(n: int) -> bytes:
    if n <= 127:
        return bytes((n,))
    parts = []
    while True:
        parts.append(n & 127)
        n >>= 7
        if not n:
            break
    # Stored so that reading backwards from the end yields the high bits last-with-flag:
    # the byte nearest the entry holds the most significant 7 bits (flag clear), the rest set bit 7.
    parts.reverse()
    return bytes([parts[0]] + [p | 128 for p in parts[1:]])


def _lp_entry(s: bytes) -> bytes:
    v = _canonical_int(s)
    if v is not None:
        if 0 <= v <= 127:
            enc = bytes((v,))
        elif -4096 <= v <= 4095:
            u = v & 0x1FFF
            enc = bytes((0xC0 | (u >> 8), u & 0xFF))
        elif -(1 << 15) <= v < (1 << 15):
            enc = b"\xf1" + _I16.pack(v)
        elif -(1 << 23) <= v < (1 << 23):
            enc = b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= v < (1 << 31):
            enc = b"\xf3" + _I32.pack(v)
        else:
            enc = b"\xf4" + _I64.pack(v)
    else:
        ln = len(s)
        if ln < 64:
            enc = bytes((0x80 | ln,)) + s
        elif ln < 4096:
            enc = bytes((0xE0 | (ln >> 8), ln & 0xFF)) + s
        else:
            enc = b"\xf0" + _U32.pack(ln) + s
    return enc + _backlen_bytes(len(enc))


def listpack_encode(items: list[bytes]) -> bytes:
    """A listpack holding `items`, using integer forms for canonical integers as Redis does."""
    body = b"".join(_lp_entry(s) for s in items)
    total = 6 + len(body) + 1
    count = len(items) if len(items) < 65535 else 65535
    return _U32.pack(total) + _U16.pack(count) + body + b"\xff"


def ziplist_decode(buf: bytes) -> list[bytes]:
    """All elements of a ziplist, integers rendered as decimal bytes."""
    total = len(buf)
    if total < 11:
        raise EncodingError(f"ziplist too short ({total} bytes)")
    zlbytes, zltail = struct.unpack_from("<II", buf, 0)
    if zlbytes != total:
        raise EncodingError(f"ziplist header says {zlbytes} bytes, blob has {total}")
    if buf[-1] != 0xFF:
        raise EncodingError("ziplist does not end with 0xFF")
    if zltail > total - 1:
        raise EncodingError(f"ziplist tail offset {zltail} out of range")
    out: list[bytes] = []
    append = out.append
    pos = 10
    end = total - 1
    try:
        while pos < end:
            pos += 5 if buf[pos] == 0xFE else 1
            e = buf[pos]
            kind = e >> 6
            if kind == 0:
                ln = e & 0x3F
                append(buf[pos + 1 : pos + 1 + ln])
                pos += 1 + ln
            elif kind == 1:
                ln = ((e & 0x3F) << 8) | buf[pos + 1]
                append(buf[pos + 2 : pos + 2 + ln])
                pos += 2 + ln
            elif kind == 2:
                ln = _BE32.unpack_from(buf, pos + 1)[0]
                append(buf[pos + 5 : pos + 5 + ln])
                pos += 5 + ln
            elif e == 0xC0:
                append(b"%d" % _I16.unpack_from(buf, pos + 1)[0])
                pos += 3
            elif e == 0xD0:
                append(b"%d" % _I32.unpack_from(buf, pos + 1)[0])
                pos += 5
            elif e == 0xE0:
                append(b"%d" % _I64.unpack_from(buf, pos + 1)[0])
                pos += 9
            elif e == 0xF0:
                append(b"%d" % int.from_bytes(buf[pos + 1 : pos + 4], "little", signed=True))
                pos += 4
            elif e == 0xFE:
                append(b"%d" % struct.unpack_from("<b", buf, pos + 1)[0])
                pos += 2
            elif 0xF1 <= e <= 0xFD:
                append(b"%d" % ((e & 0x0F) - 1))
                pos += 1
            else:
                raise EncodingError(f"ziplist: bad entry encoding 0x{e:02x} at offset {pos}")
    except (struct.error, IndexError) as exc:
        raise EncodingError(f"ziplist entry near offset {pos} runs past the end") from exc
    if pos != end:
        raise EncodingError(f"ziplist entry near offset {pos} runs past the end")
    return out


def intset_decode(buf: bytes) -> list[bytes]:
    """Members of an intset as decimal bytes, in their stored (ascending) order."""
    if len(buf) < 8:
        raise EncodingError(f"intset too short ({len(buf)} bytes)")
    width, count = struct.unpack_from("<II", buf, 0)
    code = {2: "h", 4: "i", 8: "q"}.get(width)
    if code is None:
        raise EncodingError(f"intset: bad element width {width}")
    if count == 0:
        raise EncodingError("intset: empty intset")
    if len(buf) != 8 + width * count:
        raise EncodingError(
            f"intset: {count} elements of {width} bytes need {8 + width * count} bytes, blob has {len(buf)}"
        )
    return [b"%d" % v for v in struct.unpack_from(f"<{count}{code}", buf, 8)]


def intset_encode(values: list[int]) -> bytes:
    """An intset of `values` (sorted, deduplicated, smallest width that fits)."""
    vals = sorted(set(values))
    lo, hi = (vals[0], vals[-1]) if vals else (0, 0)
    if -(1 << 15) <= lo and hi < (1 << 15):
        width, code = 2, "h"
    elif -(1 << 31) <= lo and hi < (1 << 31):
        width, code = 4, "i"
    else:
        width, code = 8, "q"
    return struct.pack(f"<II{len(vals)}{code}", width, len(vals), *vals)


def zipmap_decode(buf: bytes) -> list[bytes]:
    """Fields and values of a zipmap, alternating (field, value, field, value, ...)."""
    out: list[bytes] = []
    pos = 1
    n = len(buf)

    def read_len() -> int:
        nonlocal pos
        b = buf[pos]
        if b < 254:
            pos += 1
            return b
        if b == 254:
            v = _U32.unpack_from(buf, pos + 1)[0]
            pos += 5
            return v
        raise EncodingError(f"zipmap: unexpected end marker at offset {pos}")

    try:
        while pos < n and buf[pos] != 0xFF:
            klen = read_len()
            out.append(buf[pos : pos + klen])
            pos += klen
            vlen = read_len()
            free = buf[pos]
            pos += 1
            out.append(buf[pos : pos + vlen])
            pos += vlen + free
    except (struct.error, IndexError) as exc:
        raise EncodingError(f"zipmap entry near offset {pos} runs past the end") from exc
    if pos != n - 1 or buf[pos] != 0xFF:
        raise EncodingError(f"zipmap entry near offset {pos} runs past the end")
    return out
