"""DUMP / RESTORE payloads in both directions against real redis-server 6.2, 7.0 and 8.2."""

from __future__ import annotations

import random
import struct
from collections import deque

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pyredis.crc64 import crc64
from harness.pyredis.dump import (
    BAD_DATA_FORMAT,
    VERSION_OR_CHECKSUM,
    DumpPayloadError,
    dump_payload,
    restore_payload,
)
from harness.pyredis.values import ZSet

try:
    from tests.pyredis import realredis as rr
except ImportError:  # tests/ is not a package: pytest put this directory on sys.path
    import realredis as rr  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(120)
BUILD_IDS = [b.name for b in rr.BUILDS]


def _sealed(body: bytes, version: int = 9) -> bytes:
    """A payload with a correct footer around an arbitrary body."""
    blob = body + struct.pack("<H", version)
    return blob + struct.pack("<Q", crc64(0, blob))


VALUES = {
    b"str": b"hello",
    b"int": b"-123456",
    b"long": b"abc" * 5000,
    b"list": deque([b"a", b"1", b"b" * 100]),
    b"set": {b"x", b"7", b"y" * 70},
    b"hash": {b"f": b"v", b"g": b"12"},
    b"zset": ZSet([(b"a", 1.5), (b"b", float("-inf")), (b"c", 1e-7)]),
}


def test_dump_string_bytes_match_spec() -> None:
    p = dump_payload(b"hello")
    assert p[:-8] == bytes.fromhex("000568656c6c6f0900")
    assert struct.unpack("<Q", p[-8:])[0] == crc64(0, p[:-8])


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_real_dump_restores_here(build: rr.Build) -> None:
    """Every key of a real server's every-encoding dataset: DUMP there, restore_payload here."""
    with rr.real_redis(build) as server:
        c = server.c
        rr.populate(c, build.series, streams=False, field_ttls=True)
        checked = 0
        for dbid in (0, 3, 9):
            c.select(dbid)
            for key in c.scan_iter(count=1000):
                payload = c.dump(key)
                assert struct.unpack_from("<H", payload, len(payload) - 10)[0] == build.rdb_version
                assert restore_payload(payload) == rr.read_value(c, key), key
                checked += 1
        assert checked > 25
        # The string example from the spec: same value bytes on every version.
        c.select(0)
        assert c.dump("s:small")[:-10] == bytes.fromhex("000568656c6c6f")


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_our_dump_restores_on_real(build: rr.Build) -> None:
    with rr.real_redis(build) as server:
        c = server.c
        for key, value in VALUES.items():
            c.restore(key, 0, dump_payload(value))
            assert rr.read_value(c, key) == value, key
            # ...and the server's own DUMP of it comes back to the same value here.
            assert restore_payload(c.dump(key)) == value


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_error_texts_match_real_restore(build: rr.Build) -> None:
    """Each corrupt payload fails here with the exact text the real server replies."""
    good = dump_payload(b"hello")
    cases = {
        "bad-crc": good[:-1] + bytes([good[-1] ^ 0xFF]),
        "zero-crc": good[:-8] + bytes(8),
        "too-short": b"\x00\x01",
        "bad-body": _sealed(b"\x00\x85hi"),
        "unknown-type": _sealed(b"\x08\x01x"),
        "truncated-body": _sealed(b"\x00\x10abc"),
        "newer-version": _sealed(b"\x00\x01x", version=200),
    }
    with rr.real_redis(build) as server:
        for name, payload in cases.items():
            with pytest.raises(redis.ResponseError) as real:
                server.c.restore(f"k-{name}", 0, payload)
            with pytest.raises(DumpPayloadError) as ours:
                restore_payload(payload, max_version=build.rdb_version)
            assert str(real.value) == str(ours.value), name
    assert str(ours.value) in (VERSION_OR_CHECKSUM, BAD_DATA_FORMAT)


def test_version_gate() -> None:
    p12 = dump_payload(b"v", rdb_version=12)
    assert restore_payload(p12) == b"v"
    with pytest.raises(DumpPayloadError, match=VERSION_OR_CHECKSUM):
        restore_payload(p12, max_version=9)


def test_stream_payload_is_refused_clearly() -> None:
    build = rr.BUILDS[1]
    with rr.real_redis(build) as server:
        server.c.xadd("st", {"a": "1"})
        payload = server.c.dump("st")
    with pytest.raises(DumpPayloadError, match="stream is not supported"):
        restore_payload(payload)


def test_empty_aggregate_is_bad_data() -> None:
    with pytest.raises(DumpPayloadError, match=BAD_DATA_FORMAT):
        restore_payload(_sealed(b"\x02\x00"))


def test_module_payload_is_refused_clearly() -> None:
    build = rr.BUILDS[2]
    with rr.real_redis(build) as server:
        server.c.execute_command("VADD", "vs", "VALUES", 2, 1.0, 2.0, "e")
        payload = server.c.dump("vs")
    with pytest.raises(DumpPayloadError, match="module value of vectorset"):
        restore_payload(payload)


_blob = st.binary(max_size=30) | st.sampled_from([b"0", b"-1", b"65535", b"-2147483649", b"1e3"])
_value = st.one_of(
    _blob,
    st.lists(_blob, min_size=1, max_size=10).map(deque),
    st.sets(_blob, min_size=1, max_size=10),
    st.dictionaries(_blob, _blob, min_size=1, max_size=10),
    st.dictionaries(_blob, st.floats(allow_nan=False), min_size=1, max_size=10).map(
        lambda d: ZSet(d.items())
    ),
)


@settings(max_examples=200, deadline=None)
@given(value=_value, version=st.sampled_from([9, 10, 11, 12]))
def test_payload_roundtrip_property(value: object, version: int) -> None:
    payload = dump_payload(value, rdb_version=version)  # type: ignore[arg-type]
    assert struct.unpack_from("<H", payload, len(payload) - 10)[0] == version
    assert restore_payload(payload) == value


def test_random_corruption_gives_redis_errors_only() -> None:
    """Any damaged payload with a *valid* footer fails as RESTORE does: Bad data format."""
    rnd = random.Random(5)
    for value in VALUES.values():
        body = dump_payload(value)[:-10]
        for _ in range(300):
            bad = bytearray(body)
            if rnd.random() < 0.5:
                bad[rnd.randrange(len(bad))] = rnd.randrange(256)
            else:
                del bad[rnd.randrange(1, len(bad)) :]
            try:
                restore_payload(_sealed(bytes(bad)))
            except DumpPayloadError as exc:
                assert str(exc).startswith(BAD_DATA_FORMAT) or str(exc) == VERSION_OR_CHECKSUM
