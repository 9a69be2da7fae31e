"""Pure-logic pieces: Go-style JSON decoding/encoding, address parsing, slicer cut points."""

from __future__ import annotations

import random

import pytest

from harness.toxiproxy import gojson
from harness.toxiproxy.netaddr import AddressError, split_host_port
from harness.toxiproxy.toxics import slice_bounds


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.3, "0.3"), (0.2, "0.2"), (0.1234567, "0.1234567"), (1.7, "1.7"), (-0.5, "-0.5"),
     (0.0, "0"), (1e-7, "1e-7"), (0.5, "0.5"), (2.5e-5, "0.000025")],
)
def test_float32_shortest_form(value: float, text: str) -> None:
    assert gojson.format_float32(gojson.to_float32(value)) == text


def test_first_value_only_and_errors() -> None:
    assert gojson.decode_first_value(b' {"a": 1} {"b": 2}') == {"a": 1}
    for body, message in ((b"", "EOF"), (b"   ", "EOF"), (b'{"a":', "unexpected EOF"),
                          (b"NaN", "invalid character 'N' looking for beginning of value"),
                          (b"[" * 100_000, "exceeded max depth")):
        with pytest.raises(gojson.BodyError, match=message):
            gojson.decode_first_value(body)


def test_typed_lookups_follow_go_rules() -> None:
    obj = {"Latency": 5, "jitter": None, "big": 2**63, "frac": 1.0, "flag": True}
    assert gojson.as_int64(obj, "latency", "T") == 5  # case-insensitive
    assert gojson.as_int64(obj, "jitter", "T") is gojson.MISSING  # null keeps the current value
    assert gojson.as_int64(obj, "absent", "T") is gojson.MISSING
    for key in ("big", "frac", "flag"):
        with pytest.raises(gojson.BodyError, match="cannot unmarshal"):
            gojson.as_int64(obj, key, "T")
    with pytest.raises(gojson.BodyError, match="cannot unmarshal number into Go struct field T.latency of type string"):
        gojson.as_string(obj, "latency", "T")


def test_dumps_is_compact_and_ordered() -> None:
    assert gojson.dumps({"b": [1, True, None], "a": "é", "t": 1.0}) == '{"b":[1,true,null],"a":"é","t":1}'


@pytest.mark.parametrize(
    ("addr", "expected"),
    [("127.0.0.1:80", ("127.0.0.1", "80")), (":0", ("", "0")), ("[::1]:5", ("::1", "5")),
     ("localhost:", ("localhost", ""))],
)
def test_split_host_port(addr: str, expected: tuple[str, str]) -> None:
    assert split_host_port(addr) == expected


@pytest.mark.parametrize(("addr", "message"), [("local373", "missing port"), ("a:b:c", "too many colons"),
                                                ("[::1", "missing ']'")])
def test_split_host_port_errors(addr: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        split_host_port(addr)


def pieces(cuts: list[int]) -> list[int]:
    return [b - a for a, b in zip(cuts, cuts[1:], strict=False)]


def test_slicer_cut_points_match_toxiproxy_counts() -> None:
    rng = random.Random(1)
    assert pieces(slice_bounds(24, 1, 0, rng.randrange)) == [1] * 24
    sizes = pieces(slice_bounds(100, 10, 0, rng.randrange))
    assert len(sizes) == 16 and sum(sizes) == 100 and all(s <= 10 for s in sizes)
    sizes = pieces(slice_bounds(480_000, 1024, 512, rng.randrange))
    assert sum(sizes) == 480_000 and 240 <= len(sizes) <= 720 and all(0 < s <= 1536 for s in sizes)
    assert pieces(slice_bounds(5, 10, 0, rng.randrange)) == [5]
    assert pieces(slice_bounds(0, 10, 0, rng.randrange)) == [0]
