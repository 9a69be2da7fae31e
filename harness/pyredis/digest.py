"""DEBUG DIGEST and DEBUG DIGEST-VALUE, reproducing redis-server's SHA-1 mixing exactly.

Why it matters: comparing a Python node's dataset with a real server's by digest is one round
trip instead of a full SCAN, so the harness's convergence checks can use it on any backend.
The only version-dependent part is how zset scores are printed before hashing: `%.17g` up to
7.0, the shortest round-trip form (`fpconv_dtoa`) from 7.2 on.
"""

from __future__ import annotations

import hashlib
import math
import struct
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


_M64 = (1 << 64) - 1
_TENS = [10**i for i in range(19, -1, -1)]  # 10^19 ... 1, as in fpconv


def _cached_powers() -> list[tuple[int, int]]:
    """Normalized 64-bit significand and binary exponent of 10^k, k = -348, -340, ..., 340."""
    out = []
    for k in range(-348, 341, 8):
        if k >= 0:
            num, den = 10**k, 1
        else:
            num, den = 1, 10**-k
        e = num.bit_length() - den.bit_length() - 64
        while True:  # find e with 2^63 <= 10^k / 2^e < 2^64
            n, d = (num, den << e) if e >= 0 else (num << -e, den)
            if n >= d << 64:
                e += 1
            elif n < d << 63:
                e -= 1
            else:
                break
        q, r = divmod(n, d)
        if 2 * r >= d:
            q += 1
        if q >> 64:
            q >>= 1
            e += 1
        out.append((q, e))
    return out


_POWERS = _cached_powers()


def _mul(af: int, ae: int, bf: int, be: int) -> tuple[int, int]:
    """fpconv's 64x64 multiply keeping the rounded high half."""
    lo = 0xFFFFFFFF
    ah_bl = (af >> 32) * (bf & lo)
    al_bh = (af & lo) * (bf >> 32)
    al_bl = (af & lo) * (bf & lo)
    ah_bh = (af >> 32) * (bf >> 32)
    tmp = (ah_bl & lo) + (al_bh & lo) + (al_bl >> 32) + (1 << 31)
    return (ah_bh + (ah_bl >> 32) + (al_bh >> 32) + (tmp >> 32)) & _M64, ae + be + 64


def _grisu2(x: float) -> tuple[str, int]:
    """Digits D and exponent K (x = D * 10^K) exactly as fpconv's grisu2 produces them.

    Grisu2 is *not* always shortest (3.5e22 gives 35000000000000002 * 10^6), so Python's repr
    cannot stand in for it; the 64-bit unsigned arithmetic is emulated with masks.
    """
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    frac = bits & 0x000FFFFFFFFFFFFF
    bexp = (bits >> 52) & 0x7FF
    hidden = 1 << 52
    if bexp:
        frac += hidden
        e = bexp - 1075
    else:
        e = -1074
    # Boundaries.
    uf, ue = (frac << 1) + 1, e - 1
    while not uf & (hidden << 1):
        uf <<= 1
        ue -= 1
    uf <<= 10
    ue -= 10
    lshift = 2 if frac == hidden else 1
    lf, le = (frac << lshift) - 1, e - lshift
    lf <<= le - ue
    le = ue
    # Normalize w.
    wf, we = frac, e
    while not wf & hidden:
        wf <<= 1
        we -= 1
    wf <<= 11
    we -= 11
    # Cached power.
    approx = int(-(ue + 87) * 0.30102999566398114)
    idx = int((approx + 348) / 8)
    while True:
        cur = ue + _POWERS[idx][1] + 64
        if cur < -60:
            idx += 1
        elif cur > -32:
            idx -= 1
        else:
            break
    k = -348 + idx * 8
    cf, ce = _POWERS[idx]
    wf, we = _mul(wf, we, cf, ce)
    uf, ue = _mul(uf, ue, cf, ce)
    lf, le = _mul(lf, le, cf, ce)
    lf += 1
    uf -= 1
    kk = -k
    # Digit generation.
    wfrac = (uf - wf) & _M64
    delta = (uf - lf) & _M64
    shift = -ue
    one = 1 << shift
    part1 = uf >> shift
    part2 = uf & (one - 1)
    digits: list[int] = []
    kappa = 10
    di = 10
    while kappa > 0:
        div = _TENS[di]
        di += 1
        digit = part1 // div
        if digit or digits:
            digits.append(digit)
        part1 -= digit * div
        kappa -= 1
        tmp = ((part1 << shift) + part2) & _M64
        if tmp <= delta:
            kk += kappa
            _round_digit(digits, delta, tmp, (div << shift) & _M64, wfrac)
            return "".join(map(str, digits)), kk
    unit = 18
    while True:
        part2 = (part2 * 10) & _M64
        delta = (delta * 10) & _M64
        kappa -= 1
        digit = part2 >> shift
        if digit or digits:
            digits.append(digit)
        part2 &= one - 1
        if part2 < delta:
            kk += kappa
            _round_digit(digits, delta, part2, one, (wfrac * _TENS[unit]) & _M64)
            return "".join(map(str, digits)), kk
        unit -= 1


def _round_digit(digits: list[int], delta: int, rem: int, kappa: int, frac: int) -> None:
    while (
        rem < frac
        and ((delta - rem) & _M64) >= kappa
        and (((rem + kappa) & _M64) < frac or ((frac - rem) & _M64) > ((rem + kappa - frac) & _M64))
    ):
        digits[-1] -= 1
        rem = (rem + kappa) & _M64


def fpconv_dtoa(x: float) -> str:
    """Redis 7.2+'s fpconv_dtoa: grisu2 digits, laid out by fpconv's rules (§4.6)."""
    neg = math.copysign(1.0, x) < 0
    sign = "-" if neg else ""
    if x == 0:
        return sign + "0"
    if math.isinf(x):
        return sign + "inf"
    if math.isnan(x):
        return sign + "nan"
    digits, k = _grisu2(abs(x))
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
