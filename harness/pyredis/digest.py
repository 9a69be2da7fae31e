"""DEBUG DIGEST and DEBUG DIGEST-VALUE, reproducing redis-server's SHA-1 mixing exactly.

Why it matters: comparing a Python node's dataset with a real server's by digest is one round
trip instead of a full SCAN, so the harness's convergence checks can use it on any backend.
The only version-dependent part is how zset scores are printed before hashing: `%.17g` up to
7.0, the shortest round-trip form (`fpconv_dtoa`) from 7.2 on.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping

from harness.pyredis.values import Value, ZSet

_ZERO = bytes(20)
_sha1 = hashlib.sha1

TYPE_STRING, TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_HASH = 0, 1, 2, 3, 4


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(20, "big")


def xor_digest(d: bytes, data: bytes) -> bytes:
    """d ^= SHA1(data)"""
    return _xor(d, _sha1(data).digest())


def mix_digest(d: bytes, data: bytes) -> bytes:
    """d = SHA1(d ^ SHA1(data))"""
    return _sha1(_xor(d, _sha1(data).digest())).digest()


def format_score(score: float, version: tuple[int, int] = (7, 0)) -> bytes:
    """The score text DEBUG DIGEST hashes on the given server version."""
    if version < (7, 2):
        return b"%.17g" % score
    return fpconv_dtoa(score).encode()


def fpconv_dtoa(x: float) -> str:
    """Redis 7.2+'s fpconv_dtoa: shortest round-trip digits, laid out by grisu's rules.

    Python's repr gives the same shortest digits; only the layout (when to use an exponent,
    unpadded exponents) is Redis's own, reimplemented here.
    """
    neg = math.copysign(1.0, x) < 0
    sign = "-" if neg else ""
    if x == 0:
        return sign + "0"
    if math.isinf(x):
        return sign + "inf"
    if math.isnan(x):
        return sign + "nan"
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    # value = int(ip+fp) * 10^(e - len(fp)); leading zeros stripped do not change K.
    k = e - len(fp)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    n = len(digits)
    exp10 = abs(k + n - 1)
    if k >= 0 and exp10 < n + 7:
        return sign + digits + "0" * k
    if k < 0 and (k > -7 or exp10 < 4):
        offset = n + k
        if offset <= 0:
            return sign + "0." + "0" * (-offset) + digits
        return sign + digits[:offset] + "." + digits[offset:]
    out = digits[0]
    if n > 1:
        out += "." + digits[1:]
    return f"{sign}{out}e{'-' if k + n - 1 < 0 else '+'}{exp10}"


def _object_digest(
    start: bytes, value: Value, expire: int | None, version: tuple[int, int]
) -> bytes:
    """xorObjectDigest: fold `value` (and its expire marker) into the digest `start`."""
    mix = mix_digest
    if isinstance(value, bytes):
        d = mix(start, TYPE_STRING.to_bytes(4, "big"))
        d = mix(d, value)
    elif isinstance(value, deque):
        d = mix(start, TYPE_LIST.to_bytes(4, "big"))
        for elem in value:
            d = mix(d, elem)
    elif isinstance(value, set):
        d = mix(start, TYPE_SET.to_bytes(4, "big"))
        acc = int.from_bytes(d, "big")
        for member in value:
            acc ^= int.from_bytes(_sha1(member).digest(), "big")
        d = acc.to_bytes(20, "big")
    elif isinstance(value, ZSet):
        d = mix(start, TYPE_ZSET.to_bytes(4, "big"))
        acc = int.from_bytes(d, "big")
        for member, score in value.scores.items():
            e = mix(mix(_ZERO, member), format_score(score, version))
            acc ^= int.from_bytes(_sha1(e).digest(), "big")
        d = acc.to_bytes(20, "big")
    elif isinstance(value, dict):
        d = mix(start, TYPE_HASH.to_bytes(4, "big"))
        acc = int.from_bytes(d, "big")
        for f, v in value.items():
            e = mix(mix(_ZERO, f), v)
            acc ^= int.from_bytes(_sha1(e).digest(), "big")
        d = acc.to_bytes(20, "big")
    else:
        raise TypeError(f"not a Redis value: {type(value).__name__}")
    if expire is not None:
        d = xor_digest(d, b"!!expire!!")
    return d


def value_digest(
    value: Value | None, expire_ms: int | None = None, version: tuple[int, int] = (7, 0)
) -> str:
    """DEBUG DIGEST-VALUE for one key: 40 zeros when the key does not exist."""
    if value is None:
        return "0" * 40
    return _object_digest(_ZERO, value, expire_ms, version).hex()


def dataset_digest(
    dbs: Mapping[int, Mapping[bytes, tuple[Value, int | None]]],
    version: tuple[int, int] = (7, 0),
) -> str:
    """DEBUG DIGEST of the whole dataset: 40 zeros when every db is empty."""
    final = _ZERO
    for dbid in sorted(dbs):
        keys = dbs[dbid]
        if not keys:
            continue
        final = mix_digest(final, dbid.to_bytes(4, "big"))
        acc = int.from_bytes(final, "big")
        for key, (value, expire) in keys.items():
            d = mix_digest(_ZERO, key)
            d = _object_digest(d, value, expire, version)
            acc ^= int.from_bytes(_sha1(d).digest(), "big")
        final = acc.to_bytes(20, "big")
    return final.hex()
