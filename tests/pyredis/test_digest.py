"""DEBUG DIGEST / DIGEST-VALUE computed here equal the real servers' replies."""

from __future__ import annotations

import random
import struct
from collections import deque

import pytest

from harness.pyredis.digest import dataset_digest, format_score, fpconv_dtoa, value_digest
from harness.pyredis.rdb import load_rdb
from harness.pyredis.values import ZSet

try:
    from tests.pyredis import realredis as rr
except ImportError:  # tests/ is not a package: pytest put this directory on sys.path
    import realredis as rr  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(120)
BUILD_IDS = [b.name for b in rr.BUILDS]
ZEROS = "0" * 40


def _status(reply: object) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_dataset_digest_matches_debug_digest(build: rr.Build) -> None:
    with rr.real_redis(build) as server:
        c = server.c
        assert _status(c.execute_command("DEBUG", "DIGEST")) == ZEROS
        assert dataset_digest({}) == ZEROS and dataset_digest({0: {}}) == ZEROS
        rr.populate(c, build.series, streams=False, field_ttls=False)
        real = _status(c.execute_command("DEBUG", "DIGEST"))
        from_rdb = load_rdb(server.save_rdb()).dbs
        from_commands = rr.read_dataset(c)
    assert dataset_digest(from_rdb, build.series) == real
    assert dataset_digest(from_commands, build.series) == real


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_value_digest_matches_debug_digest_value(build: rr.Build) -> None:
    with rr.real_redis(build) as server:
        c = server.c
        rr.populate(c, build.series, streams=False, field_ttls=False)
        dbs = load_rdb(server.save_rdb()).dbs
        for dbid, keys in dbs.items():
            c.select(dbid)
            names = list(keys) + [b"no-such-key"]
            replies = [_status(r) for r in c.execute_command("DEBUG", "DIGEST-VALUE", *names)]
            ours = [value_digest(*keys[k], version=build.series) for k in names[:-1]]
            ours.append(value_digest(None))
            assert replies == ours, [n for n, a, b in zip(names, replies, ours, strict=True) if a != b]


def _interesting_doubles(n: int) -> list[float]:
    rnd = random.Random(20261125)
    out = [0.1, 1e8, 1e-7, 3e21, 100.0, 1e7, 0.0, -0.0, 1e-6, 1e21, 1e22, 123456789.0, 5e-324,
           1.7976931348623157e308, -2.5, 0.3, 2 / 3, 1e15, 1e16, 1e17, 123e-9, 4.35, 1e-5, 1e-4]
    while len(out) < n:
        kind = rnd.randrange(4)
        if kind == 0:  # any finite bit pattern
            x = struct.unpack("<d", rnd.getrandbits(64).to_bytes(8, "little"))[0]
            if x != x or x in (float("inf"), float("-inf")):
                continue
        elif kind == 1:
            x = rnd.randint(-(10**12), 10**12) / 10 ** rnd.randint(0, 12)
        elif kind == 2:
            x = float(rnd.randint(1, 999)) * 10.0 ** rnd.randint(-30, 30)
        else:
            x = rnd.uniform(-1000, 1000)
        out.append(x)
    return out


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_score_formatting_matches_real_server(build: rr.Build) -> None:
    """One single-member zset per score: DIGEST-VALUE isolates the score text the server hashes."""
    scores = _interesting_doubles(3000)
    with rr.real_redis(build) as server:
        c = server.c
        pipe = c.pipeline(transaction=False)
        for i, s in enumerate(scores):
            pipe.zadd(f"z{i}", {"m": repr(s)})
        pipe.execute()
        names = [f"z{i}" for i in range(len(scores))]
        replies = [_status(r) for r in c.execute_command("DEBUG", "DIGEST-VALUE", *names)]
        # Hash what the server holds: small zsets on 7.0+ store integral scores as integers,
        # so -0.0 comes back as 0.
        pipe = c.pipeline(transaction=False)
        for name in names:
            pipe.zscore(name, "m")
        held = [float(x) for x in pipe.execute()]
    assert sum(h != s for h, s in zip(held, scores, strict=True)) <= 1
    bad = [
        (s, format_score(s, build.series))
        for s, r in zip(held, replies, strict=True)
        if value_digest(ZSet([(b"m", s)]), version=build.series) != r
    ]
    assert not bad, f"{len(bad)} scores hashed differently, e.g. {bad[:5]}"


def test_score_formatting_table() -> None:
    """The table of wire-and-rdb.md §4.6."""
    old, new = (7, 0), (8, 2)
    cases = [
        (0.1, "0.10000000000000001", "0.1"),
        (1e8, "100000000", "1e+8"),
        (1e-7, "9.9999999999999995e-08", "1e-7"),
        (3e21, "3e+21", "3e+21"),
        (100.0, "100", "100"),
        (1e7, "10000000", "10000000"),
        (0.0, "0", "0"),
        (-0.0, "-0", "-0"),
        # grisu2 is not always shortest; fpconv (and so Redis 7.2+) prints this one long.
        (3.5e22, "3.5000000000000002e+22", "35000000000000002000000"),
    ]
    for x, a, b in cases:
        assert format_score(x, old).decode() == a
        assert format_score(x, (6, 2)).decode() == a
        assert format_score(x, new).decode() == b, x
    assert fpconv_dtoa(float("inf")) == "inf" and fpconv_dtoa(float("-inf")) == "-inf"
    assert fpconv_dtoa(1e100) == "1e+100" and fpconv_dtoa(1.5e-300) == "1.5e-300"
    assert fpconv_dtoa(0.000001) == "0.000001" and fpconv_dtoa(-123.25) == "-123.25"


def test_digest_properties() -> None:
    """Order-insensitive where Redis is (sets, hashes, keys), order-sensitive for lists."""
    a = {0: {b"s": ({b"a", b"b"}, None), b"h": ({b"f": b"1", b"g": b"2"}, None)}}
    b = {0: {b"h": ({b"g": b"2", b"f": b"1"}, None), b"s": ({b"b", b"a"}, None)}}
    assert dataset_digest(a) == dataset_digest(b) != ZEROS
    assert value_digest(deque([b"a", b"b"])) != value_digest(deque([b"b", b"a"]))
    assert value_digest(b"v", 1) == value_digest(b"v", 999) != value_digest(b"v")
    assert dataset_digest({1: {b"k": (b"v", None)}}) != dataset_digest({0: {b"k": (b"v", None)}})
    with pytest.raises(TypeError):
        value_digest([b"not a deque"])  # type: ignore[arg-type]
