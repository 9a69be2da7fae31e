"""RDB load/dump against real redis-server 6.2.14, 7.0.15 and 8.2.3."""

from __future__ import annotations

import random
import struct
from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.pyredis.crc64 import crc64
from harness.pyredis.encodings import listpack_encode
from harness.pyredis.rdb import RdbContents, RdbError, dump_rdb, load_rdb
from harness.pyredis.values import ZSet

try:
    from tests.pyredis import realredis as rr
except ImportError:  # tests/ is not a package: pytest put this directory on sys.path
    import realredis as rr  # type: ignore[no-redef]

pytestmark = pytest.mark.timeout(180)

BUILD_IDS = [b.name for b in rr.BUILDS]
FIELD_TTL_KEYS = (b"hf:small", b"hf:big")


def _without(dbs: dict, keys: tuple[bytes, ...]) -> dict:
    out = {}
    for dbid, db in dbs.items():
        kept = {k: v for k, v in db.items() if k not in keys}
        if kept:
            out[dbid] = kept
    return out


def model_dataset() -> rr.Dataset:
    """A dataset built in Python (no server involved) covering every value type."""
    big_list = deque(f"e{i}".encode() * (1 + i % 5) for i in range(2500))
    return {
        0: {
            b"str": (b"hello", None),
            b"int": (b"12345", None),
            b"neg": (b"-7", None),
            b"big-int": (b"123456789012345678", None),
            b"lzf-able": (b"xyz" * 200, None),
            b"empty": (b"", None),
            b"bin\x00\xff": (bytes(range(256)), None),
            b"ttl": (b"v", rr.FAR_FUTURE_MS),
            b"list": (deque([b"a", b"1", b"", b"c" * 300]), None),
            b"biglist": (big_list, rr.FAR_FUTURE_MS - 5000),
            b"set-ints": ({b"1", b"2", b"-3", b"70000"}, None),
            b"set-strs": ({b"a", b"b", b"c" * 100}, None),
            b"set-big": ({f"m{i}".encode() for i in range(800)}, None),
            b"set-huge": ({b"%d" % i for i in range(17000)}, None),  # 32-bit count
            b"str-huge": (bytes(range(256)) * 100, None),  # 32-bit string length
            b"hash": ({b"f": b"v", b"n": b"10", b"long": b"q" * 200}, None),
            b"hash-big": ({f"f{i}".encode(): f"v{i}".encode() for i in range(1000)}, None),
            b"zset": (ZSet([(b"a", 1.0), (b"b", 2.5), (b"c", float("-inf")), (b"d", float("inf"))]), None),
            b"zset-big": (ZSet((f"z{i}".encode(), i * 0.37 - 20) for i in range(400)), None),
        },
        2: {b"other-db": (b"x", None)},
        15: {b"last-db": (deque([b"only"]), rr.FAR_FUTURE_MS)},
    }


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
@pytest.mark.parametrize(
    "config",
    [
        {},
        {"list-compress-depth": "1", "list-max-listpack-size": "8"},
        {"rdbcompression": "no", "rdbchecksum": "no"},
    ],
    ids=["defaults", "compressed-quicklist", "no-compression-no-checksum"],
)
def test_load_rdb_written_by_real_server(build: rr.Build, config: dict[str, str]) -> None:
    """Every encoding the real server writes decodes to what the server itself returns."""
    if build.series < (7, 0) and "list-max-listpack-size" in config:
        config = {"list-compress-depth": "1", "list-max-ziplist-size": "8"}
    with rr.real_redis(build, **config) as server:
        rr.populate(server.c, build.series)
        data = server.save_rdb()
        contents = load_rdb(data)
        want = rr.read_dataset(server.c)
    assert isinstance(contents, RdbContents)
    assert contents.version == build.rdb_version
    assert contents.aux["redis-ver"].startswith(build.name.encode())
    assert contents.aux["redis-bits"] == b"64"
    if config.get("rdbchecksum") == "no":
        assert data[-8:] == bytes(8)
    else:
        assert struct.unpack("<Q", data[-8:])[0] == crc64(0, data[:-8])
    assert any("stream:1" in s and "stream" in s for s in contents.skipped), contents.skipped
    assert b"stream:1" not in contents.dbs[0]
    rr.assert_same_dataset(contents.dbs, want)
    if build.series >= (7, 0):
        plain = contents.dbs[0][b"l:plain"][0]
        assert len(plain) == 2002 and plain[-1] == b"tail" and len(plain[-2]) == 300
        if "list-max-listpack-size" not in config:
            assert b"\x01\x41\x2c" + plain[-2] in data  # really stored as a PLAIN node
    if build.series >= (7, 4):
        # Hashes with field TTLs: the values load, the TTLs are reported as dropped.
        assert any("hf:small" in s and "TTL" in s for s in contents.skipped)
        assert any("hf:big" in s and "TTL" in s for s in contents.skipped)
        assert contents.dbs[0][b"hf:small"][0] == {b"a": b"1", b"b": b"2", b"c": b"3"}


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
@pytest.mark.parametrize("compress", [False, True], ids=["raw", "lzf"])
def test_real_server_loads_dump_rdb(build: rr.Build, compress: bool) -> None:
    """A version-9 file from dump_rdb loads on every real version with identical contents."""
    model = model_dataset()
    data = dump_rdb(
        model,
        aux={"repl-id": "a" * 40, "repl-offset": 12345, "repl-stream-db": 0},
        compress=compress,
    )
    with rr.real_redis(build, rdb=data) as server:
        assert "Done loading RDB" in server.log() or "DB loaded from disk" in server.log()
        got = rr.read_dataset(server.c)
        # And the server's own SAVE of it reads back identically through our loader.
        resaved = load_rdb(server.save_rdb())
    rr.assert_same_dataset(got, model)
    rr.assert_same_dataset(resaved.dbs, model, expire_slack_ms=0)


@pytest.mark.parametrize("source", rr.BUILDS, ids=[f"from-{n}" for n in BUILD_IDS])
def test_real_to_ours_to_every_real(source: rr.Build) -> None:
    """Load a real server's RDB, write it back out with dump_rdb, load that on every version."""
    with rr.real_redis(source) as server:
        rr.populate(server.c, source.series, streams=False, field_ttls=False)
        contents = load_rdb(server.save_rdb())
        want = rr.read_dataset(server.c)
    data = dump_rdb(contents.dbs)
    for target in rr.BUILDS:
        if target.binary() is None:
            continue
        with rr.real_redis(target, rdb=data) as other:
            rr.assert_same_dataset(rr.read_dataset(other.c), want)


def test_version_12_file_is_refused_by_6_2_and_loaded_by_8_2() -> None:
    """Documents why dump_rdb defaults to version 9: an older server refuses a newer file."""
    data = dump_rdb({0: {b"k": (b"v", None)}}, version=12)
    assert data.startswith(b"REDIS0012")
    old, new = rr.BUILDS[0], rr.BUILDS[2]
    rr.require(old)
    rr.require(new)
    with pytest.raises(rr.ServerExited, match="Can't handle RDB format version 12"):
        with rr.real_redis(old, rdb=data):
            pass
    with rr.real_redis(new, rdb=data) as server:
        assert server.c.get("k") == b"v"


# --- dump_rdb details ---------------------------------------------------------------------------


def test_dump_rdb_layout_and_aux() -> None:
    data = dump_rdb(
        {0: {b"a": (b"1", None)}, 3: {b"k": (b"v", 1700000000000)}},
        aux={"repl-id": "f" * 40, "repl-offset": 178, "repl-stream-db": 3},
    )
    assert data.startswith(b"REDIS0009\xfa\x09redis-ver")
    assert b"\xfa\x0aredis-bits\xc0\x40" in data
    assert b"\xfa\x0brepl-offset\xc1\xb2\x00" in data
    assert b"\xfa\x0erepl-stream-db\xc0\x03" in data
    assert b"\xfe\x03\xfb\x01\x01\xfc" + struct.pack("<q", 1700000000000) + b"\x00\x01k\x01v" in data
    assert data[-9] == 0xFF
    assert struct.unpack("<Q", data[-8:])[0] == crc64(0, data[:-8])
    back = load_rdb(data)
    assert back.aux["repl-id"] == b"f" * 40
    assert back.aux["repl-offset"] == b"178"
    assert back.aux["aof-preamble"] == b"0"
    assert back.dbs == {0: {b"a": (b"1", None)}, 3: {b"k": (b"v", 1700000000000)}}


def test_dump_rdb_leaves_out_empty_aggregates_and_empty_dbs() -> None:
    data = dump_rdb({0: {b"e": (set(), 5), b"s": (b"x", None)}, 1: {b"l": (deque(), None)}})
    back = load_rdb(data)
    assert back.dbs == {0: {b"s": (b"x", None)}}
    assert b"\xfb\x01\x00" in data  # RESIZEDB counts only what was written


def test_dump_rdb_without_checksum_writes_zero_and_loads() -> None:
    data = dump_rdb({0: {b"k": (b"v", None)}}, checksum=False)
    assert data[-8:] == bytes(8)
    assert load_rdb(data).dbs == {0: {b"k": (b"v", None)}}


def test_dump_rdb_rejects_non_values() -> None:
    with pytest.raises(TypeError, match="db 0 key b'k': cannot serialize: not a Redis value: list"):
        dump_rdb({0: {b"k": ([b"list"], None)}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="db 2 key 'text': cannot serialize"):
        dump_rdb({2: {"text": (b"v", None)}})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="db 0 key b'k': cannot serialize"):
        dump_rdb({0: {b"k": (b"v", "soon")}})  # type: ignore[dict-item]


# --- corrupt input ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_file() -> bytes:
    return dump_rdb(model_dataset())


def test_bad_checksum(good_file: bytes) -> None:
    bad = good_file[:-1] + bytes([good_file[-1] ^ 1])
    with pytest.raises(RdbError, match=r"bad checksum at offset \d+: stored 0x[0-9a-f]+, computed"):
        load_rdb(bad)
    # Flipping a byte of a value keeps the structure valid; only the CRC catches it.
    i = good_file.index(b"hello")
    bad = good_file[:i] + b"j" + good_file[i + 1 :]
    with pytest.raises(RdbError, match="bad checksum"):
        load_rdb(bad)
    assert load_rdb(bad, verify_checksum=False).dbs[0][b"str"][0] == b"jello"


@pytest.mark.parametrize("cut", [9, 10, 30, 100, 1000, 5000, -20, -9, -5, -1])
def test_truncated(good_file: bytes, cut: int) -> None:
    with pytest.raises(RdbError, match=r"truncated RDB.*offset \d+"):
        load_rdb(good_file[:cut])


def test_bad_magic_and_version() -> None:
    with pytest.raises(RdbError, match="bad magic at offset 0"):
        load_rdb(b"RADIS0009\xff" + bytes(8))
    with pytest.raises(RdbError, match="bad magic"):
        load_rdb(b"")
    with pytest.raises(RdbError, match="unsupported RDB version 13 at offset 5"):
        load_rdb(b"REDIS0013\xff" + bytes(8))
    with pytest.raises(RdbError, match="bad RDB version field"):
        load_rdb(b"REDIS00x9\xff" + bytes(8))


def test_unknown_object_type_and_bad_length() -> None:
    body = b"REDIS0009\xfe\x00\x08\x01k\x01v\xff"
    with pytest.raises(RdbError, match="unknown object type 8 at offset 11"):
        load_rdb(body + struct.pack("<Q", crc64(0, body)))
    body = b"REDIS0009\xfe\x00\x00\x01k\x82v\xff"
    with pytest.raises(RdbError, match="bad length encoding byte 0x82 at offset 14"):
        load_rdb(body + struct.pack("<Q", crc64(0, body)))
    body = b"REDIS0009\x00\x01k\xc4\x00\xff"
    with pytest.raises(RdbError, match="unknown string encoding 0xc4 at offset 12"):
        load_rdb(body + struct.pack("<Q", crc64(0, body)))


def test_trailing_garbage(good_file: bytes) -> None:
    with pytest.raises(RdbError, match="trailing garbage"):
        load_rdb(good_file + b"x")


def test_bad_lzf_inside_rdb() -> None:
    body = b"REDIS0009\x00\x01k\xc3\x02\x05\x00a\xff"  # literal run says 1 byte, claims 5 out
    with pytest.raises(RdbError, match="Invalid LZF compressed string"):
        load_rdb(body + struct.pack("<Q", crc64(0, body)))


def test_module_value_is_skipped_with_a_note() -> None:
    module_id = 0x1234567890ABC00 | 1
    value = b"\x02\x05\x05\x03abc\x04" + struct.pack("<d", 1.5) + b"\x03" + struct.pack("<f", 2.0) + b"\x00"
    aux = b"\xf7\x81" + struct.pack(">Q", module_id) + b"\x02\x02\x01\x07\x00"
    body = (
        b"REDIS0010" + aux + b"\xfe\x00\x07\x03mod\x81" + struct.pack(">Q", module_id) + value
        + b"\x00\x01k\x01v\xff"
    )
    contents = load_rdb(body + struct.pack("<Q", crc64(0, body)))
    assert contents.dbs == {0: {b"k": (b"v", None)}}
    assert any("module value" in s and "mod" in s for s in contents.skipped)
    assert any("module aux" in s for s in contents.skipped)


def test_function2_kept_opaque() -> None:
    lib = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    body = b"REDIS0010\xf5" + bytes([0x40 | (len(lib) >> 8), len(lib) & 0xFF]) + lib + b"\xff"
    contents = load_rdb(body + struct.pack("<Q", crc64(0, body)))
    assert contents.functions == [lib]


def test_function_library_from_real_7_0() -> None:
    build = rr.BUILDS[1]
    with rr.real_redis(build) as server:
        lib = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return 1 end)"
        server.c.execute_command("FUNCTION", "LOAD", lib)
        server.c.set("k", "v")
        contents = load_rdb(server.save_rdb())
    assert contents.functions == [lib.encode()]
    assert contents.dbs == {0: {b"k": (b"v", None)}}


# --- property: dump_rdb -> load_rdb is the identity ---------------------------------------------

_blob = st.binary(max_size=40) | st.sampled_from([b"0", b"-1", b"127", b"128", b"-32769", b"2147483648", b"007"])
_score = st.floats(allow_nan=False)
_value = st.one_of(
    _blob,
    st.lists(_blob, min_size=1, max_size=8).map(deque),
    st.sets(_blob, min_size=1, max_size=8),
    st.dictionaries(_blob, _blob, min_size=1, max_size=8),
    st.dictionaries(_blob, _score, min_size=1, max_size=8).map(lambda d: ZSet(d.items())),
)
_expire = st.none() | st.integers(min_value=0, max_value=2**62)
_dataset = st.dictionaries(
    st.integers(min_value=0, max_value=15),
    st.dictionaries(_blob, st.tuples(_value, _expire), min_size=1, max_size=6),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dataset=_dataset, compress=st.booleans(), version=st.sampled_from([9, 10, 11, 12]))
def test_roundtrip_property(dataset: rr.Dataset, compress: bool, version: int) -> None:
    back = load_rdb(dump_rdb(dataset, version=version, compress=compress))
    assert back.version == version
    assert back.dbs == dataset
    assert back.skipped == []


def test_real_module_value_is_skipped() -> None:
    """8.2 ships the vectorset module built in; its keys are type 7 values we must step over."""
    build = rr.BUILDS[2]
    with rr.real_redis(build) as server:
        server.c.execute_command("VADD", "vs", "VALUES", 3, 0.1, 0.2, 0.3, "elem")
        server.c.set("after", "still here")
        contents = load_rdb(server.save_rdb())
    assert contents.dbs == {0: {b"after": (b"still here", None)}}
    assert any("vs" in s and "module value of vectorset" in s for s in contents.skipped), contents.skipped


# --- legacy object types and rare opcodes, hand-built, cross-checked with the real servers -----


def _ziplist(items: list[bytes]) -> bytes:
    """A valid ziplist (strings and int16 entries), with a correct tail offset and prevlens."""
    entries = []
    prev = 0
    for s in items:
        v = None
        if s.lstrip(b"-").isdigit() and b"%d" % int(s) == s and -(2**15) <= int(s) < 2**15:
            v = int(s)
        data = b"\xc0" + struct.pack("<h", v) if v is not None else bytes([len(s)]) + s
        prevlen = bytes([prev]) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
        entry = prevlen + data
        entries.append(entry)
        prev = len(entry)
    tail = 10 + sum(len(e) for e in entries[:-1])
    body = b"".join(entries)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(items)) + body + b"\xff"


def _zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = bytes([len(pairs)])
    for k, v in pairs:
        out += bytes([len(k)]) + k + bytes([len(v), 0]) + v
    return out + b"\xff"


def _s(b: bytes) -> bytes:
    return bytes([len(b)]) + b


def legacy_file() -> tuple[bytes, dict]:
    zl_list = [b"a", b"1", b"-300", b"bb"]
    body = b"".join(
        [
            b"REDIS0009",
            b"\xfa" + _s(b"redis-ver") + _s(b"2.4.0"),
            b"\xfe\x00\xfb\x07\x01",
            b"\x01" + _s(b"plain-list") + b"\x02" + _s(b"x") + _s(b"y"),
            b"\x03" + _s(b"old-zset") + b"\x03" + _s(b"m1") + b"\x031.5" + _s(b"m2") + b"\xfe"
            + _s(b"m3") + b"\xff",
            b"\x09" + _s(b"zipmap-hash") + _s(_zipmap([(b"f1", b"v1"), (b"f2", b"22")])),
            b"\x0a" + _s(b"ziplist-list") + _s(_ziplist(zl_list)),
            b"\x0e" + _s(b"quicklist") + b"\x02" + _s(_ziplist([b"q1", b"q2"])) + _s(_ziplist([b"7"])),
            b"\xf8\x05\x00" + _s(b"idle-key") + _s(b"i"),
            b"\xfd" + struct.pack("<i", 2000000000) + b"\x00" + _s(b"sec-expire") + _s(b"s"),
            b"\xff",
        ]
    )
    want = {
        0: {
            b"plain-list": (deque([b"x", b"y"]), None),
            b"old-zset": (ZSet([(b"m1", 1.5), (b"m2", float("inf")), (b"m3", float("-inf"))]), None),
            b"zipmap-hash": ({b"f1": b"v1", b"f2": b"22"}, None),
            b"ziplist-list": (deque(zl_list), None),
            b"quicklist": (deque([b"q1", b"q2", b"7"]), None),
            b"idle-key": (b"i", None),
            b"sec-expire": (b"s", 2000000000000),
        }
    }
    return body + struct.pack("<Q", crc64(0, body)), want


def test_legacy_types_and_opcodes() -> None:
    data, want = legacy_file()
    assert load_rdb(data).dbs == want


@pytest.mark.parametrize("build", rr.BUILDS, ids=BUILD_IDS)
def test_legacy_file_loads_identically_on_real_server(build: rr.Build) -> None:
    """Our reading of the hand-built legacy encodings is what the real server reads too."""
    data, want = legacy_file()
    with rr.real_redis(build, rdb=data) as server:
        rr.assert_same_dataset(rr.read_dataset(server.c), want)


def test_rare_opcodes() -> None:
    lib = b"#!lua name=x\n"
    body = b"".join(
        [
            b"REDIS0012",
            b"\xf6" + _s(b"oldfn") + _s(b"LUA") + b"\x01" + _s(b"desc") + _s(b"code"),
            b"\xf5" + _s(lib),
            b"\xfe\x05\xfb\x01\x00\xf4\x01\x01\x00",
            b"\xf9\x07\x00" + _s(b"freq-key") + _s(b"f"),
            b"\xff",
        ]
    )
    contents = load_rdb(body + struct.pack("<Q", crc64(0, body)))
    assert contents.version == 12
    assert contents.dbs == {5: {b"freq-key": (b"f", None)}}
    assert contents.functions == [lib]
    assert any("pre-release FUNCTION" in s for s in contents.skipped)


def test_hash_field_ttl_types_hand_built() -> None:
    t25 = listpack_encode([b"a", b"1", b"4102444800000", b"b", b"2", b"0"])
    body = b"".join(
        [
            b"REDIS0012\xfe\x00",
            b"\x19" + _s(b"h25") + struct.pack("<Q", 4102444800000) + bytes([0x40, len(t25)]) + t25,
            b"\x18" + _s(b"h24") + struct.pack("<Q", 4102444800000) + b"\x02"
            + b"\x01" + _s(b"f1") + _s(b"v1") + b"\x00" + _s(b"f2") + _s(b"v2"),
            b"\xff",
        ]
    )
    contents = load_rdb(body + struct.pack("<Q", crc64(0, body)))
    assert contents.dbs == {0: {b"h25": ({b"a": b"1", b"b": b"2"}, None), b"h24": ({b"f1": b"v1", b"f2": b"v2"}, None)}}
    assert len([s for s in contents.skipped if "TTL" in s]) == 2


def _small_mixed_file(compress: bool) -> bytes:
    small = {k: v for k, v in model_dataset()[0].items() if len(v[0]) < 600}
    return dump_rdb({0: small, 4: {b"x": (b"1", 5)}}, compress=compress)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "lzf"])
def test_truncated_at_every_offset(compress: bool) -> None:
    """Whatever the cut point (inside lengths, LZF blobs, doubles, the CRC), a clear RdbError."""
    data = _small_mixed_file(compress)
    for cut in range(9, len(data)):
        with pytest.raises(RdbError, match="truncated RDB"):
            load_rdb(data[:cut])


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "lzf"])
def test_random_corruption_never_escapes_as_another_exception(compress: bool) -> None:
    """With the CRC check off, flipped bytes either still parse or raise RdbError, nothing else."""
    data = _small_mixed_file(compress)
    rnd = random.Random(11)
    for _ in range(1500):
        bad = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            bad[rnd.randrange(9, len(bad) - 8)] = rnd.randrange(256)
        try:
            load_rdb(bytes(bad), verify_checksum=False)
        except RdbError:
            pass
