"""CRC-64 (all three implementations agree, and agree with real files), LZF, compact encodings."""

from __future__ import annotations

import os
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pyredis import crc64 as crcmod
from harness.pyredis import encodings as enc
from harness.pyredis.lzf import LzfError, compress, decompress
from harness.pyredis.rdb import load_rdb

try:
    from tests.pyredis import realredis as rr
except ImportError:  # tests/ is not a package: pytest put this directory on sys.path
    import realredis as rr  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(120)


# --- CRC-64 -------------------------------------------------------------------------------------


def test_check_value() -> None:
    assert crcmod.crc64(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert crcmod.crc64_bytewise(0, b"123456789") == 0xE9C6D914C4B8D9CA
    assert crcmod.crc64(0, b"") == 0


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), init=st.integers(min_value=0, max_value=2**64 - 1))
def test_sliced_equals_bytewise(data: bytes, init: int) -> None:
    assert crcmod.crc64_py(init, data) == crcmod.crc64_bytewise(init, data)


@pytest.mark.skipif(not crcmod.HAVE_NUMPY, reason="numpy not installed: only the pure path exists")
@pytest.mark.parametrize("size", [1 << 18, (1 << 18) + 7, 3 * 4096 * 100 + 4095, 1 << 21])
def test_numpy_path_equals_pure(size: int) -> None:
    data = random.Random(size).randbytes(size)
    assert crcmod._crc64_numpy(0x1234, memoryview(data)) == crcmod.crc64_py(0x1234, data)
    assert crcmod.crc64(0, data) == crcmod.crc64_py(0, data)


def test_incremental() -> None:
    data = os.urandom(600_000)
    whole = crcmod.crc64(0, data)
    assert crcmod.crc64(crcmod.crc64(0, data[:12345]), data[12345:]) == whole
    assert crcmod.crc64(0, bytearray(data)) == whole
    assert crcmod.crc64(0, memoryview(data)) == whole


def test_crc_matches_real_server_files() -> None:
    checked = 0
    for build in rr.BUILDS:
        if build.binary() is None:
            continue
        with rr.real_redis(build) as server:
            server.c.set("k", "v" * 1000)
            server.c.rpush("l", *range(100_000))  # makes the file large enough for the numpy path
            data = server.save_rdb()
        assert struct.unpack("<Q", data[-8:])[0] == crcmod.crc64(0, data[:-8])
        assert struct.unpack("<Q", data[-8:])[0] == crcmod.crc64_py(0, data[:-8])
        checked += 1
    if not checked:
        pytest.skip("no redis-server installed")


# --- LZF ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.lists(st.sampled_from([b"a", b"ab", b"abc", b"xyzw", b"\x00"]), max_size=600).map(b"".join),
    )
)
def test_lzf_roundtrip(data: bytes) -> None:
    packed = compress(data)
    if packed is None:
        return
    assert len(packed) < len(data)
    assert decompress(packed, len(data)) == data


def test_lzf_overlapping_backreference() -> None:
    # Literal "ab", then copy 10 bytes from distance 2 (an overlapping run): ctrl 7<<5 means
    # "length in the next byte" (7 + 1, plus the implicit 2), then the distance byte (2 - 1).
    packed = bytes([1]) + b"ab" + bytes([7 << 5, 1, 1])
    assert decompress(packed, 12) == b"ab" * 6


@pytest.mark.parametrize(
    "bad,length,why",
    [
        (b"\x05ab", 6, "past the end of input"),
        (b"\x00a\x20", 3, "truncated back-reference"),
        (b"\x00a\x20\x05", 4, "before the start"),
        (b"\x00a", 5, "decoded 1 bytes, expected 5"),
        (b"\xe0", 9, "truncated back-reference"),
    ],
)
def test_lzf_errors(bad: bytes, length: int, why: str) -> None:
    with pytest.raises(LzfError, match=why):
        decompress(bad, length)


def test_lzf_strings_from_real_server_decode() -> None:
    """Redis's own LZF output (rdbcompression yes) decodes to the original strings."""
    build = rr.BUILDS[1]
    rnd = random.Random(7)
    values = {f"k{i}": (rnd.choice(["ab", "xyz", "hello world "]) * rnd.randint(10, 3000)).encode() for i in range(50)}
    with rr.real_redis(build) as server:
        server.c.mset(values)
        data = server.save_rdb()
    assert data.count(b"\xc3") >= 50
    got = load_rdb(data).dbs[0]
    assert {k.decode(): v for k, (v, _) in got.items()} == values


# --- compact encodings --------------------------------------------------------------------------


def test_listpack_example_from_82_dump() -> None:
    """The 8.2.3 DUMP of zset {d:-inf, c:0.1, a:1, b:2.5, e:inf} from wire-and-rdb.md §2.12."""
    blob = bytes.fromhex(
        "2d0000000a00" "816402" "842d696e6605" "816302" "83302e3104" "816102" "0101"
        "816202" "83322e3504" "816502" "83696e6604" "ff"
    )
    assert enc.listpack_decode(blob) == [
        b"d", b"-inf", b"c", b"0.1", b"a", b"1", b"b", b"2.5", b"e", b"inf"
    ]


_lp_item = st.one_of(
    st.binary(max_size=70),
    st.binary(min_size=4090, max_size=4200),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i),
    st.sampled_from([b"0", b"127", b"128", b"-4096", b"4095", b"4096", b"-0", b"01", b"+1"]),
)


@settings(max_examples=150, deadline=None)
@given(items=st.lists(_lp_item, max_size=40))
def test_listpack_roundtrip(items: list[bytes]) -> None:
    assert enc.listpack_decode(enc.listpack_encode(items)) == items


def test_listpack_backlen_sizes() -> None:
    big = b"x" * 20000  # entry of 20005 bytes needs a 3-byte backlen
    assert enc.listpack_decode(enc.listpack_encode([big, b"1", b"y" * 200])) == [big, b"1", b"y" * 200]
    assert enc._backlen_bytes(200) == bytes.fromhex("01c8")


def test_listpack_errors() -> None:
    good = enc.listpack_encode([b"a", b"b"])
    with pytest.raises(enc.EncodingError, match="header says"):
        enc.listpack_decode(good + b"\xff")
    with pytest.raises(enc.EncodingError, match="does not end with 0xFF"):
        enc.listpack_decode(good[:-1] + b"\x00")
    with pytest.raises(enc.EncodingError, match="too short"):
        enc.listpack_decode(b"\x01")
    bad = bytearray(enc.listpack_encode([b"abc"]))
    bad[6] = 0x8A  # string claims 10 bytes
    with pytest.raises(enc.EncodingError, match="runs past the end"):
        enc.listpack_decode(bytes(bad))


def _ziplist(entries: list[bytes]) -> bytes:
    """A hand-built ziplist using every integer encoding (test helper, not production code)."""
    body = b""
    prev = 0
    for e in entries:
        prevlen = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        item = prevlen + e
        prev = len(item)
        body += item
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, 10, len(entries)) + body + b"\xff"


def test_ziplist_all_encodings() -> None:
    entries = [
        b"\x03abc",
        b"\x40\x05hello",
        b"\x80\x00\x00\x00\x02hi",
        b"\xc0" + struct.pack("<h", -300),
        b"\xd0" + struct.pack("<i", 100000),
        b"\xe0" + struct.pack("<q", -(2**40)),
        b"\xf0" + (-70000 & 0xFFFFFF).to_bytes(3, "little"),
        b"\xfe" + struct.pack("<b", -7),
        b"\xf1",
        b"\xfd",
        b"\x00" + b"",
        b"\x01q",
    ]
    assert enc.ziplist_decode(_ziplist(entries)) == [
        b"abc", b"hello", b"hi", b"-300", b"100000", b"-1099511627776", b"-70000", b"-7",
        b"0", b"12", b"", b"q",
    ]
    with pytest.raises(enc.EncodingError, match="bad entry encoding"):
        enc.ziplist_decode(_ziplist([b"\xc5"]))


def test_ziplist_long_prevlen() -> None:
    # The first entry is 258 bytes, so the second one's prevlen takes the 5-byte form.
    blob = _ziplist([b"\x40\xff" + b"A" * 255, b"\x01B"])
    assert b"\xfe\x02\x01\x00\x00\x01B" in blob
    assert enc.ziplist_decode(blob) == [b"A" * 255, b"B"]


def test_intset() -> None:
    blob = bytes.fromhex("0400000005000000fbffffff01000000020000000300000070110100")
    assert enc.intset_decode(blob) == [b"-5", b"1", b"2", b"3", b"70000"]
    for values in ([1, 2, 3], [-(2**15), 2**15], [2**40, -(2**63)]):
        assert enc.intset_decode(enc.intset_encode(values)) == [b"%d" % v for v in sorted(values)]
    with pytest.raises(enc.EncodingError, match="empty intset"):
        enc.intset_decode(struct.pack("<II", 2, 0))
    with pytest.raises(enc.EncodingError, match="bad element width 3"):
        enc.intset_decode(struct.pack("<II", 3, 1) + b"abc")
    with pytest.raises(enc.EncodingError, match="need 12 bytes"):
        enc.intset_decode(struct.pack("<II", 2, 2) + b"ab")


def test_zipmap() -> None:
    blob = b"\x02" + b"\x03foo\x03\x00bar" + b"\x05hello\x05\x02world!!" + b"\xff"
    assert enc.zipmap_decode(blob) == [b"foo", b"bar", b"hello", b"world"]
    big = b"\x01\xfe" + struct.pack("<I", 300) + b"K" * 300 + b"\x01\x00v\xff"
    assert enc.zipmap_decode(big) == [b"K" * 300, b"v"]
    with pytest.raises(enc.EncodingError, match="runs past the end"):
        enc.zipmap_decode(b"\x01\x05ab")


def test_without_numpy_falls_back_to_pure(monkeypatch: pytest.MonkeyPatch) -> None:
    data = random.Random(3).randbytes(300_000)
    want = crcmod.crc64_py(0, data)
    monkeypatch.setattr(crcmod, "HAVE_NUMPY", False)
    assert crcmod.crc64(0, data) == want


def test_zero_operator_is_appending_zeros() -> None:
    """The lane-chaining operator equals feeding that many zero bytes."""
    for nbytes in (1, 7, 100, 4096):
        op = crcmod._zero_operator(nbytes)
        for c in (1, 0xDEADBEEF, 2**64 - 1, 0x8000000000000001):
            assert crcmod._apply_op(op, c) == crcmod.crc64_bytewise(c, bytes(nbytes))
