"""The 16 databases: values, expire times, and the expiry rules that differ by role.

On a master an expired key is deleted when touched (or by the active cycle) and a DEL is
propagated; on a replica it only *reads* as absent and stays until the master's DEL arrives,
which is what keeps DBSIZE and DEBUG DIGEST in step with real replicas.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from harness.pyredis.values import Value, ZSet


def now_ms() -> int:
    return int(time.time() * 1000)


class Database:
    __slots__ = ("index", "data", "expires", "heap", "watchers", "owner", "replica_own")

    def __init__(self, index: int, owner: Keyspace) -> None:
        self.index = index
        self.data: dict[bytes, Value] = {}
        self.expires: dict[bytes, int] = {}
        self.heap: list[tuple[int, bytes]] = []
        self.watchers: dict[bytes, set] = {}
        self.owner = owner
        # Keys a client gave a TTL on a writable replica: the replica expires those itself.
        self.replica_own: set[bytes] = set()

    # --- expiry -------------------------------------------------------------------------------
    def _expired(self, key: bytes) -> bool:
        when = self.expires.get(key)
        return when is not None and when <= now_ms()

    def expire_if_needed(self, key: bytes) -> bool:
        """True if the key is logically expired (deleted too, when we may delete)."""
        when = self.expires.get(key)
        if when is None or when > now_ms():
            return False
        owner = self.owner
        if owner.is_replica_applying() or not owner.may_expire():
            # A replica never deletes on its own; commands from its master see the stored key.
            return not owner.is_replica_applying()
        self.delete(key)
        owner.expired_keys += 1
        owner.propagate_expire(self.index, key)
        return True

    def lookup(self, key: bytes) -> Value | None:
        if key in self.expires and self.expire_if_needed(key):
            return None
        return self.data.get(key)

    def lookup_write(self, key: bytes) -> Value | None:
        """A write sees an expired key as absent, and on a replica's own writes deletes it."""
        if key in self.expires:
            owner = self.owner
            if not owner.is_replica_applying() and self._expired(key):
                if owner.may_expire():
                    self.expire_if_needed(key)
                else:
                    self.delete(key)
                return None
        return self.data.get(key)

    def set_expire(self, key: bytes, when_ms: int) -> None:
        owner = self.owner
        if not owner.may_expire() and not owner.is_replica_applying():
            self.replica_own.add(key)
        self.expires[key] = when_ms
        heapq.heappush(self.heap, (when_ms, key))
        if len(self.heap) > 2 * len(self.expires) + 1024:
            self.heap = [(w, k) for k, w in self.expires.items()]
            heapq.heapify(self.heap)

    def persist(self, key: bytes) -> bool:
        return self.expires.pop(key, None) is not None

    def ttl_ms(self, key: bytes) -> int | None:
        when = self.expires.get(key)
        return None if when is None else when - now_ms()

    # --- mutation -----------------------------------------------------------------------------
    def set(self, key: bytes, value: Value, keep_ttl: bool = False) -> None:
        self.data[key] = value
        if not keep_ttl:
            self.expires.pop(key, None)
        self.touch(key)
        if self.owner.blocked and type(value) in (deque, ZSet):  # a client may be parked on this key
            self.owner.key_created(self, key)

    def delete(self, key: bytes) -> bool:
        if key in self.data:
            del self.data[key]
            self.expires.pop(key, None)
            self.touch(key)
            return True
        return False

    def touch(self, key: bytes) -> None:
        """Invalidate WATCHes on this key (signalModifiedKey)."""
        if self.watchers:
            clients = self.watchers.get(key)
            if clients:
                for client in clients:
                    client.dirty_cas = True

    def touch_all(self) -> None:
        for clients in self.watchers.values():
            for client in clients:
                client.dirty_cas = True

    def clear(self) -> None:
        self.touch_all()
        self.data = {}
        self.expires = {}
        self.heap = []
        self.replica_own = set()

    def expire_replica_own(self) -> None:
        """Writable replica: delete its own expired keys (never ones the master owns)."""
        now = now_ms()
        for key in list(self.replica_own):
            when = self.expires.get(key)
            if when is None:
                self.replica_own.discard(key)
            elif when <= now:
                self.replica_own.discard(key)
                self.delete(key)
                self.owner.expired_keys += 1

    def active_expire(self, budget: int) -> int:
        """Delete up to `budget` keys whose time has come; return how many."""
        heap = self.heap
        done = 0
        now = now_ms()
        while heap and done < budget and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            if self.expires.get(key) == when:
                self.delete(key)
                self.owner.expired_keys += 1
                self.owner.propagate_expire(self.index, key)
                done += 1
        return done

    def __len__(self) -> int:
        return len(self.data)


class Keyspace:
    """All databases plus the hooks the server provides for role-dependent behaviour."""

    def __init__(self, count: int = 16) -> None:
        self.dbs = [Database(i, self) for i in range(count)]
        self.expired_keys = 0
        self.is_replica_applying: Callable[[], bool] = lambda: False
        self.may_expire: Callable[[], bool] = lambda: True
        self.propagate_expire: Callable[[int, bytes], None] = lambda db, key: None
        # Keys clients are parked on (BLPOP & co.), shared with harness.pyredis.blocking, and
        # what Database.set calls when one of them is created as a list or sorted set.
        self.blocked: dict[tuple[int, bytes], Any] = {}
        self.key_created: Callable[[Database, bytes], None] = lambda db, key: None

    def flushall(self) -> None:
        for db in self.dbs:
            db.clear()

    def replace(self, dbs: dict[int, dict[bytes, tuple[Value, int | None]]]) -> None:
        """Swap in a loaded dataset (after a full sync or at startup)."""
        for db in self.dbs:
            db.clear()
        for index, keys in dbs.items():
            if not 0 <= index < len(self.dbs):
                continue
            db = self.dbs[index]
            data = db.data
            for key, (value, expire) in keys.items():
                data[key] = value
                if expire is not None:
                    db.expires[key] = expire
            db.heap = [(w, k) for k, w in db.expires.items()]
            heapq.heapify(db.heap)

    def snapshot(self) -> dict[int, dict[bytes, tuple[Value, int | None]]]:
        """A point-in-time copy (fork emulation): strings are shared, containers copied."""
        out: dict[int, dict[bytes, tuple[Value, int | None]]] = {}
        for db in self.dbs:
            if not db.data:
                continue
            expires = db.expires
            keys: dict[bytes, tuple[Value, int | None]] = {}
            for key, value in db.data.items():
                if type(value) is not bytes:
                    value = copy_value(value)
                keys[key] = (value, expires.get(key))
            out[db.index] = keys
        return out

    def total_keys(self) -> int:
        return sum(len(db.data) for db in self.dbs)


def copy_value(value: Value) -> Value:
    if isinstance(value, bytes):
        return value
    if isinstance(value, deque):
        return deque(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, set):
        return set(value)
    if isinstance(value, ZSet):
        z = ZSet()
        z.scores = dict(value.scores)
        z.index = value.index.copy()
        return z
    raise TypeError(type(value).__name__)
