"""The in-memory value types shared by the keyspace, the RDB codec, DUMP/RESTORE and DEBUG DIGEST.

The Python type *is* the Redis type, so every module can dispatch on it without a tag:

| Redis type | Python value |
|---|---|
| string | `bytes` |
| list | `collections.deque[bytes]` |
| hash | `dict[bytes, bytes]` |
| set | `set[bytes]` |
| zset | `ZSet` (below) |
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Union

from sortedcontainers import SortedList


class ZSet:
    """A sorted set: member -> score, plus an index ordered the way Redis orders (score, member)."""

    __slots__ = ("scores", "index")

    def __init__(self, items: Iterable[tuple[bytes, float]] = ()) -> None:
        self.scores: dict[bytes, float] = {}
        self.index: SortedList = SortedList()
        for member, score in items:
            self.add(member, score)

    def add(self, member: bytes, score: float) -> bool:
        """Insert or update; True if the member is new."""
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return False
            self.index.remove((old, member))
            self.scores[member] = score
            self.index.add((score, member))
            return False
        self.scores[member] = score
        self.index.add((score, member))
        return True

    def remove(self, member: bytes) -> bool:
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.index.remove((score, member))
        return True

    def score(self, member: bytes) -> float | None:
        return self.scores.get(member)

    def rank(self, member: bytes) -> int | None:
        score = self.scores.get(member)
        if score is None:
            return None
        return int(self.index.index((score, member)))

    def __len__(self) -> int:
        return len(self.scores)

    def __iter__(self) -> Iterator[tuple[bytes, float]]:
        """(member, score) in Redis order."""
        for score, member in self.index:
            yield member, score

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    def __repr__(self) -> str:
        return f"ZSet({list(self)!r})"


Value = Union[bytes, "deque[bytes]", dict[bytes, bytes], set[bytes], ZSet]


def type_name(value: Value) -> str:
    """The name TYPE replies with."""
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, deque):
        return "list"
    if isinstance(value, dict):
        return "hash"
    if isinstance(value, set):
        return "set"
    if isinstance(value, ZSet):
        return "zset"
    raise TypeError(f"not a Redis value: {type(value).__name__}")
