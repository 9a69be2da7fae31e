"""LZF (liblzf) as used inside RDB strings: decompression, plus a small compressor.

Why a compressor at all: a writer may always store strings raw, but tests need LZF blobs that
did not come from Redis to exercise every back-reference shape, and callers that want smaller
full-sync payloads can opt in. The decoder copies whole runs with slices instead of byte by byte
(an overlapping back-reference is a repeating pattern, so it is built by repetition), which is
what keeps loading a compressed RDB tolerable in pure Python.
"""

from __future__ import annotations


class LzfError(ValueError):
    """The compressed stream is malformed or does not decode to the announced length."""


def decompress(data: bytes | bytearray | memoryview, out_len: int) -> bytes:
    """Decode `data`, which must expand to exactly `out_len` bytes."""
    src = data if type(data) is bytes else bytes(data)
    n = len(src)
    out = bytearray()
    i = 0
    olen = 0
    try:
        while i < n:
            ctrl = src[i]
            i += 1
            if ctrl < 32:
                j = i + ctrl + 1
                if j > n:
                    raise LzfError("Invalid LZF compressed string: literal run past the end of input")
                out += src[i:j]
                olen += j - i
                i = j
                continue
            length = ctrl >> 5
            if length == 7:
                length += src[i]
                i += 1
            start = olen - ((ctrl & 0x1F) << 8) - src[i] - 1
            i += 1
            length += 2
            if start < 0:
                raise LzfError("Invalid LZF compressed string: back-reference before the start")
            if start + length <= olen:
                out += out[start : start + length]
            else:  # overlapping: the copy repeats the last (olen - start) bytes
                pattern = out[start:]
                reps, rest = divmod(length, olen - start)
                out += pattern * reps + pattern[:rest]
            olen += length
    except IndexError:
        raise LzfError("Invalid LZF compressed string: truncated back-reference") from None
    if olen != out_len:
        raise LzfError(f"Invalid LZF compressed string: decoded {olen} bytes, expected {out_len}")
    return bytes(out)


_HLOG = 14
_MAX_OFF = 1 << 13
_MAX_REF = (1 << 8) + (1 << 3)
_MAX_LIT = 1 << 5


def compress(data: bytes) -> bytes | None:
    """liblzf-compatible greedy compression; None if the output would not be smaller.

    Any valid LZF stream decodes the same in Redis; this need not match liblzf's bytes exactly.
    """
    n = len(data)
    if n < 4:
        return None
    table: dict[bytes, int] = {}
    out = bytearray()
    lit_start = 0
    i = 0

    def flush_literals(end: int) -> None:
        s = lit_start
        while s < end:
            run = min(_MAX_LIT, end - s)
            out.append(run - 1)
            out.extend(data[s : s + run])
            s += run

    while i + 2 < n:
        key = data[i : i + 3]
        ref = table.get(key)
        table[key] = i
        if ref is not None and 0 < i - ref <= _MAX_OFF:
            maxlen = min(_MAX_REF, n - i)
            length = 3
            while length < maxlen and data[ref + length] == data[i + length]:
                length += 1
            flush_literals(i)
            off = i - ref - 1
            ln = length - 2
            if ln < 7:
                out.append((ln << 5) | (off >> 8))
            else:
                out.append((7 << 5) | (off >> 8))
                out.append(ln - 7)
            out.append(off & 0xFF)
            for j in range(i + 1, min(i + length, n - 2)):
                table[data[j : j + 3]] = j
            i += length
            lit_start = i
        else:
            i += 1
    flush_literals(n)
    if len(out) >= n:
        return None
    return bytes(out)
