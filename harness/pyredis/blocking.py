"""Clients blocked in BLPOP / BRPOP / BLMOVE / BRPOPLPUSH / BZPOPMIN / BZPOPMAX, and serving them.

As in Redis, a blocking pop that finds data behaves like its plain form, and one that does not
parks the client until a command creates one of its keys as a list (or sorted set). Parked clients are served
after that command has finished (and after EXEC, not inside it), oldest first, each by the
plain command it amounts to; that plain command is what the replicas receive, never the
blocking one (BLPOP → LPOP, BRPOPLPUSH → RPOPLPUSH, BLMOVE → LMOVE, BZPOPMIN → ZPOPMIN:
checklist items 7–16).
A master that turns into a replica releases every parked client with Redis's UNBLOCKED error.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from harness.pyredis import resp
from harness.pyredis.commands import Blocked, CommandError, fmt_float, to_float, typed_lookup
from harness.pyredis.values import ZSet

if TYPE_CHECKING:
    from harness.pyredis.keyspace import Database
    from harness.pyredis.server import Client, Server

UNBLOCKED_BY_ROLE_CHANGE = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"


@dataclass(eq=False)
class Pop:
    """What one blocking command does to the key that serves it: pop one end, maybe push.

    Lists (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) pop their head (`left`) or tail; sorted sets
    (BZPOPMIN, BZPOPMAX) their lowest (`left`) or highest member.
    """

    left: bool
    plain_name: bytes  # what replicas get: LPOP, RPOP, LMOVE, RPOPLPUSH, ZPOPMIN, ZPOPMAX
    destination: bytes | None = None  # BLMOVE / BRPOPLPUSH
    push_left: bool = True
    sorted_set: bool = False

    @property
    def value_type(self) -> type:
        return ZSet if self.sorted_set else deque

    def run(
        self, db: Database, key: bytes, value: deque | ZSet, directions: list[bytes] | None = None
    ) -> tuple[bytes, list[bytes]]:
        """Pop (and push) from `value`, the non-empty value of `key`; returns the client's
        reply and the argv to propagate.

        LMOVE carries `directions` as the client spelled them when it did not have to wait;
        a parked client served later gets Redis 7.0's own lower-case "left" / "right".
        """
        from harness.pyredis.commands.lists import move_element

        if self.destination is not None:
            assert isinstance(value, deque)
            moved = move_element(db, value, key, self.destination, self.left, self.push_left)
            argv = [self.plain_name, key, self.destination]
            if self.plain_name == b"LMOVE":
                argv += directions or [b"left" if self.left else b"right", b"left" if self.push_left else b"right"]
            return resp.bulk(moved), argv
        if isinstance(value, ZSet):
            score, member = value.index[0] if self.left else value.index[-1]
            value.remove(member)
            # [key, member, score]: in RESP3 the score is a double, as redis-server 7.0 sends it.
            reply = b"*3\r\n" + resp.bulk(key) + resp.bulk(member) + resp.double(fmt_float(score))
        else:
            reply = resp.array([key, value.popleft() if self.left else value.pop()])
        if value:
            db.touch(key)
        else:
            db.delete(key)
        return reply, [self.plain_name, key]


@dataclass(eq=False)
class Waiter:
    client: Client
    db: Database
    keys: list[bytes]
    pop: Pop
    future: asyncio.Future[bytes] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def parse_timeout(raw: bytes) -> float:
    """Seconds as Redis 7.0 reads them for blocking commands (a double; 0 = for ever).

    An infinite timeout overflows Redis's millisecond conversion and is reported as
    negative (6.2 and 7.0; 8.x says "out of range").
    """
    value = to_float(raw, "ERR timeout is not a float or out of range")
    if value < 0 or math.isinf(value):
        raise CommandError("ERR timeout is negative")
    return value


def pop_or_park(
    client: Client, keys: list[bytes], raw_timeout: bytes, pop: Pop, null_reply: bytes,
    directions: list[bytes] | None = None,
) -> bytes | Blocked:
    """The plain pop when a key has data; else park the client (null_reply: what EXEC gets)."""
    timeout = parse_timeout(raw_timeout)
    db = client.db
    for key in keys:  # in order: the first non-empty key serves, one of another type is WRONGTYPE
        value = typed_lookup(db, key, pop.value_type, write=True)
        if value:
            reply, argv = pop.run(db, key, value, directions)
            client.server.dirty += 1
            client.rewrites = [argv]  # replicas get the plain command, never the blocking one
            return reply
    if client.server.call_depth > 1:  # inside EXEC a blocking command never blocks
        return null_reply
    # Built now, while this client's command runs: a null's spelling depends on its protocol,
    # and by the time the timeout fires another client's command has set resp.STATE.
    timeout_reply = resp.null_array()  # every blocking pop's, BLMOVE's included, as in Redis
    return Blocked(client.server.blocking.park(client, keys, pop, timeout, timeout_reply))


class BlockingPops:
    """The parked clients of one server, by (db index, key), oldest first."""

    def __init__(self, server: Server) -> None:
        self.server = server
        # Shared with the keyspace (never rebound), so Database.set sees at no cost whether
        # anybody waits at all.
        self.by_key: dict[tuple[int, bytes], deque[Waiter]] = server.keyspace.blocked
        self.ready: list[tuple[Database, bytes]] = []  # keys waited on and created since the last serve
        server.keyspace.key_created = self._key_created

    def _key_created(self, db: Database, key: bytes) -> None:
        if (db.index, key) in self.by_key:
            self.ready.append((db, key))

    async def park(self, client: Client, keys: list[bytes], pop: Pop, timeout: float, timeout_reply: bytes) -> bytes:
        """Wait until a command creates one of `keys` with this pop's type (or the timeout)."""
        waiter = Waiter(client, client.db, keys, pop)
        for key in keys:
            self.by_key.setdefault((client.db.index, key), deque()).append(waiter)
        try:
            if timeout > 0:
                return await asyncio.wait_for(asyncio.shield(waiter.future), timeout)
            return await waiter.future
        except TimeoutError:
            return waiter.future.result() if waiter.future.done() else timeout_reply
        finally:
            self._forget(waiter)

    def _forget(self, waiter: Waiter) -> None:
        for key in waiter.keys:
            queue = self.by_key.get((waiter.db.index, key))
            if queue is None:
                continue
            if waiter in queue:
                queue.remove(waiter)
            if not queue:
                del self.by_key[(waiter.db.index, key)]

    def serve_ready(self) -> None:
        """Serve parked clients whose keys now hold data; called when no command is running.

        A client waits for its own type: a key created as a sorted set serves BZPOPMIN but
        leaves BLPOP waiting, as in Redis.
        """
        while self.ready:
            ready, self.ready = self.ready, []
            for db, key in ready:
                for waiter in list(self.by_key.get((db.index, key), ())):
                    value = db.lookup_write(key)
                    if not value:
                        break  # nothing left to serve
                    if type(value) is not waiter.pop.value_type:
                        continue
                    self._forget(waiter)
                    if waiter.future.done() or waiter.client.closing:
                        continue
                    self._serve(waiter, db, key, cast("deque | ZSet", value))

    def _serve(self, waiter: Waiter, db: Database, key: bytes, value: deque | ZSet) -> None:
        server = self.server
        # The reply is the parked client's, spelled in its protocol; the pushing client's
        # command, still running, gets its own back afterwards.
        pushing_proto, resp.STATE.proto = resp.STATE.proto, waiter.client.proto
        try:
            reply, argv = waiter.pop.run(db, key, value)
        except CommandError as exc:  # e.g. BLMOVE to a destination that is no list
            waiter.future.set_result(resp.error(str(exc)))
            return
        finally:
            resp.STATE.proto = pushing_proto
        server.dirty += 1
        if server.repl.backlog is not None:
            server.also_propagate(db.index, argv)
            server.flush_propagate(waiter.client)
        waiter.future.set_result(reply)

    def release_all(self, error: str) -> None:
        """Fail every parked client (a master becoming a replica)."""
        waiters = {id(w): w for queue in self.by_key.values() for w in queue}
        self.by_key.clear()
        for waiter in waiters.values():
            if not waiter.future.done():
                waiter.future.set_result(resp.error(error))

    def client_gone(self, client: Client) -> None:
        for queue in list(self.by_key.values()):
            for waiter in [w for w in queue if w.client is client]:
                self._forget(waiter)
                if not waiter.future.done():
                    waiter.future.cancel()
