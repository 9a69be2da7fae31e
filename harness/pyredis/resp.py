"""RESP2 request parsing and reply encoding.

The parser works on a bytearray with `find` so that a pipelined buffer of thousands of
commands is split without a per-byte Python loop; it also reports how many bytes each command
took, because a replica advances its replication offset by exactly that many bytes.
"""

from __future__ import annotations

PROTO_INLINE_MAX = 64 * 1024  # Redis: PROTO_INLINE_MAX_SIZE
PROTO_MBULK_MAX = 1024 * 1024  # largest multibulk count accepted
PROTO_BULK_MAX = 512 * 1024 * 1024  # proto-max-bulk-len default


class ProtocolError(Exception):
    """The client broke RESP; Redis replies `-ERR Protocol error: ...` and closes."""


def _split_inline(line: bytes) -> list[bytes]:
    """Split an inline command as sdssplitargs does (quotes, escapes)."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\v\f":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if c == 0x5C and i + 3 < n and line[i + 1] == 0x78 and _ishex(line[i + 2 : i + 4]):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 0x5C and i + 1 < n:
                    i += 1
                    cur.append({0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x61: 7}.get(line[i], line[i]))
                elif c == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    inq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    raise ProtocolError("unbalanced quotes in request")
                c = line[i]
                if c == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\v\f":
                        raise ProtocolError("unbalanced quotes in request")
                    insq = False
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \t\n\r\v\f":
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))


def _ishex(b: bytes) -> bool:
    return len(b) == 2 and all(c in b"0123456789abcdefABCDEF" for c in b)


def parse_command(buf: bytearray, pos: int) -> tuple[list[bytes] | None, int]:
    """Parse one request starting at `pos`.

    Returns (args, new_pos); args is None when the buffer does not hold a whole request yet
    (new_pos is then unchanged). An empty inline line returns ([], new_pos): callers skip it.
    Raises ProtocolError for input Redis rejects.
    """
    n = len(buf)
    if pos >= n:
        return None, pos
    if buf[pos] != 42:  # '*' -> inline
        nl = buf.find(b"\n", pos)
        if nl < 0:
            if n - pos > PROTO_INLINE_MAX:
                raise ProtocolError("too big inline request")
            return None, pos
        if nl - pos > PROTO_INLINE_MAX:
            raise ProtocolError("too big inline request")
        line = bytes(buf[pos:nl])
        if line.endswith(b"\r"):
            line = line[:-1]
        return _split_inline(line), nl + 1
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        if n - pos > PROTO_INLINE_MAX:
            raise ProtocolError("too big mbulk count string")
        return None, pos
    raw = bytes(buf[pos + 1 : nl])
    if not (raw.isdigit() or (raw[:1] == b"-" and raw[1:].isdigit())):
        raise ProtocolError("invalid multibulk length")
    count = int(raw)
    if count > PROTO_MBULK_MAX:
        raise ProtocolError("invalid multibulk length")
    p = nl + 2
    if count <= 0:
        return [], p
    args: list[bytes] = []
    append = args.append
    find = buf.find
    for _ in range(count):
        if p >= n:
            return None, pos
        if buf[p] != 36:  # '$'
            raise ProtocolError(f"expected '$', got '{chr(buf[p])}'")
        nl = find(b"\r\n", p)
        if nl < 0:
            if n - p > PROTO_INLINE_MAX:
                raise ProtocolError("too big bulk count string")
            return None, pos
        raw = bytes(buf[p + 1 : nl])
        if not raw.isdigit():
            raise ProtocolError("invalid bulk length")
        size = int(raw)
        if size < 0 or size > PROTO_BULK_MAX:
            raise ProtocolError("invalid bulk length")
        start = nl + 2
        end = start + size
        if end + 2 > n:
            return None, pos
        append(bytes(buf[start:end]))
        p = end + 2
    return args, p


# Canonical spellings the fast splitter recognises by one dict lookup each: "*<n>" headers
# (which also yields the count) and "$<len>" length lines of values shorter than 4 KiB.
_FAST_HEADS = {b"*%d" % n: n for n in range(1, 1025)}
_FAST_LENGTHS = {b"$%d" % n: n for n in range(4096)}


def _canonical_lengths(lenlines: list[bytes], args: list[bytes]) -> bool:
    """The slow check for values the length table does not hold."""
    return all(lenline == b"$%d" % len(arg) for lenline, arg in zip(lenlines, args, strict=True))


def parse_fast(data: bytes, pos: int, limit: int = 4096) -> list[tuple[list[bytes], int]]:
    """Split well-formed multibulk requests starting at `pos`, up to `limit` of them.

    One C-level `split` does the work for a whole pipelined batch; every length is still
    checked, and at the first thing that is not a plain complete multibulk (inline command,
    CRLF inside a value, bad or partial input) it stops, so the caller falls back to
    `parse_command`, which gives the exact Redis error. Returns [(args, end_position)].
    """
    out: list[tuple[list[bytes], int]] = []
    if pos >= len(data) or data[pos] != 42:
        return out
    parts = data[pos:].split(b"\r\n")
    n = len(parts) - 1  # the last piece has no CRLF after it yet
    sizes = list(map(len, parts))
    heads = _FAST_HEADS
    length_of = _FAST_LENGTHS.get
    append = out.append
    i = 0
    while i < n:
        count = heads.get(parts[i])
        if count is None:
            break
        stop = i + 1 + 2 * count
        if stop > n:
            break
        # Each length line must be the canonical "$<len>" of the piece after it; any other
        # spelling (leading zeros, signs, a CRLF inside a value) falls back to the exact
        # parser, so no accepted input changes.
        lenlines = parts[i + 1 : stop : 2]
        args = parts[i + 2 : stop : 2]
        if list(map(length_of, lenlines)) != sizes[i + 2 : stop : 2] and not _canonical_lengths(lenlines, args):
            break
        pos += sum(sizes[i:stop]) + 2 * (stop - i)
        append((args, pos))
        i = stop
        if len(out) >= limit:
            break
    return out


# --- replies ------------------------------------------------------------------------------

class _State:
    """The protocol of the client whose command is running (the loop runs one at a time)."""

    proto = 2


STATE = _State()

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
NULL = b"$-1\r\n"
NULL_ARRAY = b"*-1\r\n"
EMPTY_ARRAY = b"*0\r\n"
ZERO = b":0\r\n"
ONE = b":1\r\n"

_INTS = [f":{i}\r\n".encode() for i in range(-1, 1025)]


def integer(value: int) -> bytes:
    if -1 <= value <= 1023:
        return _INTS[value + 1]
    return b":%d\r\n" % value


def null() -> bytes:
    return b"_\r\n" if STATE.proto == 3 else NULL


def null_array() -> bytes:
    return b"_\r\n" if STATE.proto == 3 else NULL_ARRAY


def bulk(value: bytes | None) -> bytes:
    if value is None:
        return null()
    return b"$%d\r\n%s\r\n" % (len(value), value)


def simple(text: str) -> bytes:
    return b"+" + text.encode() + b"\r\n"


def error(text: str) -> bytes:
    return b"-" + text.encode() + b"\r\n"


def array(items: list | tuple | None) -> bytes:
    """Encode nested lists of bytes/str/int/None (None -> null bulk)."""
    if items is None:
        return null_array()
    return _aggregate(b"*%d\r\n" % len(items), items)


def _aggregate(header: bytes, items: list | tuple) -> bytes:
    parts = [header]
    for item in items:
        if isinstance(item, bytes):
            parts.append(b"$%d\r\n%s\r\n" % (len(item), item))
        elif isinstance(item, str):
            raw = item.encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
        elif isinstance(item, bool) or isinstance(item, int):
            parts.append(b":%d\r\n" % item)
        elif item is None:
            parts.append(null())
        elif isinstance(item, (list, tuple)):
            parts.append(array(item))
        elif isinstance(item, Raw):
            parts.append(item.data)
        else:
            raise TypeError(f"cannot encode {type(item).__name__}")
    return b"".join(parts)


def map_(flat: list) -> bytes:
    """A map from a flat [k1, v1, k2, v2, ...] list (RESP3 `%`, RESP2 array)."""
    if STATE.proto == 3:
        return _aggregate(b"%%%d\r\n" % (len(flat) // 2), flat)
    return array(flat)


def set_(items: list) -> bytes:
    if STATE.proto == 3:
        return _aggregate(b"~%d\r\n" % len(items), items)
    return array(items)


def double(text: bytes | None) -> bytes:
    """A score already formatted by fmt_float (RESP3 `,`, RESP2 bulk)."""
    if text is None:
        return null()
    if STATE.proto == 3:
        return b"," + text + b"\r\n"
    return bulk(text)


def scored(pairs: list[tuple[bytes, bytes]], nested: bool = True) -> bytes:
    """[(member, score_text)]: RESP3 nested pairs of (bulk, double), RESP2 flat."""
    if STATE.proto == 3 and nested:
        parts = [b"*%d\r\n" % len(pairs)]
        for m, s in pairs:
            parts.append(b"*2\r\n$%d\r\n%s\r\n,%s\r\n" % (len(m), m, s))
        return b"".join(parts)
    flat: list = []
    for m, s in pairs:
        flat.append(m)
        flat.append(Raw(double(s)))
    return array(flat)


class Raw:
    """An already encoded reply element inside `array` (e.g. a status string in DIGEST-VALUE)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def command(args: list[bytes] | tuple[bytes, ...]) -> bytes:
    """Encode a command as a multibulk (what the replication stream carries)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)
