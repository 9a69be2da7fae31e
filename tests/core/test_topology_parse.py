"""The short topology descriptions and their errors."""

from __future__ import annotations

import pytest

from harness.topology import TopologyError, parse


def test_star_and_cascade() -> None:
    assert parse("m <- r1, r2") == [("m", None), ("r1", "m"), ("r2", "m")]
    assert parse("m <- r1 <- r2") == [("m", None), ("r1", "m"), ("r2", "r1")]
    assert parse("m<-a,b<-c") == [("m", None), ("a", "m"), ("b", "m"), ("c", "a")]
    assert parse("solo") == [("solo", None)]


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("m, n <- r", "must start with exactly one master"),
        ("m <- r1 <- ", "empty group"),
        ("m <- m", "appears twice"),
        ("m <- 1bad", "bad node name"),
    ],
)
def test_bad_descriptions(description: str, message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        parse(description)
