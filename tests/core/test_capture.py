"""Dataset capture and the key-level diff, on a real server."""

from __future__ import annotations

import pytest

from harness.capture import assert_same_data, capture, diff, digest
from harness.datasets import write_all_types, write_large_values


def test_capture_reads_every_type_in_every_db(factory, build) -> None:
    node = factory.create("a", build)
    written = write_all_types(node.client(), prefix="x", db=0) + write_all_types(node.client(), prefix="y", db=4)
    written += write_large_values(node.client())
    data = capture(node)
    assert len(data) == written
    assert data.entries[(4, b"y:ttl:0")] == ("string", b"expiring", True)
    kind, value, has_ttl = data.entries[(0, b"x:set:0")]
    assert kind == "set" and not has_ttl and value == tuple(sorted(value))
    assert digest(node) is not None and len(digest(node)) == 40


def test_diff_names_each_difference(factory, build) -> None:
    a, b = factory.create("a", build), factory.create("b", build)
    for node in (a, b):
        node.client().set("same", "1")
        node.client().rpush("list", "x", "y")
    a.client().set("only-a", "1")
    b.client().set("only-b", "1")
    b.client().rpush("list", "z")
    a.client().set("typed", "s")
    b.client().sadd("typed", "s")
    a.client().set("ttl", "v", ex=100)
    b.client().set("ttl", "v")
    lines = diff(capture(a), capture(b))
    assert lines == [
        "value    db0 b'list': expected (b'x', b'y'), got (b'x', b'y', b'z')",
        "missing  db0 b'only-a': expected ('string', b'1', False)",
        "extra    db0 b'only-b': ('string', b'1', False)",
        "ttl      db0 b'ttl': expected has_ttl=True, got has_ttl=False",
        "type     db0 b'typed': expected string, got set",
    ]
    with pytest.raises(AssertionError, match="b differs from a:"):
        assert_same_data(a, b)
