"""Deterministic write streams with a Jepsen-style op history.

Why the workload looks the way it does: every write is chosen so that a checker can later
tell, from the data alone, whether that exact write took effect. Lists get unique elements
appended (so a replica's list must be a prefix of the master's), sets / sorted sets / hashes
get unique members or fields, strings get one key per write, and counters get seeded
increments on a key owned by one client (so a counter's value must be one of the prefix
sums of that client's increments). Keys are owned by one client each, which makes "the order
the master applied them" equal to "the order the client issued them" — no interleaving to
reconstruct.

The plan (which ops, in which order) is a pure function of the seed, so the same seed gives
the same ops; only timing and outcomes vary between runs. Outcomes follow Jepsen's honest
bookkeeping: ``ok`` (the server acknowledged), ``fail`` (definitely not applied: refused before
sending, or an error reply), ``unknown`` (the request may have been applied but the reply was
lost).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from harness.nodes.base import HarnessError

# The write kinds the generator draws from; each maps to a Redis type.
WRITE_KINDS: dict[str, str] = {
    "incrby": "string",  # counter, value checked against prefix sums
    "rpush": "list",  # append-only list, prefix checks
    "sadd": "set",
    "hset": "hash",
    "zadd": "zset",
    "set": "string",  # one key per write (optionally with a TTL)
}

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


class WorkloadError(HarnessError):
    """Bad workload parameters, or a history that cannot be read."""


@dataclass(frozen=True)
class OpSpec:
    """One planned write: what to send, and what will prove it happened."""

    client: int
    seq: int  # position in this client's plan
    kind: str  # a WRITE_KINDS key
    db: int
    key: str
    member: str = ""  # list element / set member / hash field / zset member / string value
    amount: int = 0  # incrby amount, zadd score
    ttl: int = 0  # seconds; only for "set"

    def command(self) -> list[Any]:
        """The Redis command that performs this write."""
        if self.kind == "incrby":
            return ["INCRBY", self.key, self.amount]
        if self.kind == "rpush":
            return ["RPUSH", self.key, self.member]
        if self.kind == "sadd":
            return ["SADD", self.key, self.member]
        if self.kind == "hset":
            return ["HSET", self.key, self.member, f"v{self.seq}"]
        if self.kind == "zadd":
            return ["ZADD", self.key, self.amount, self.member]
        if self.kind == "set":
            cmd: list[Any] = ["SET", self.key, self.member]
            if self.ttl:
                cmd += ["EX", self.ttl]
            return cmd
        raise WorkloadError(f"unknown write kind {self.kind!r}")

    @property
    def rtype(self) -> str:
        return WRITE_KINDS[self.kind]


@dataclass
class Op:
    """One executed write, as Jepsen records it: invocation, completion, outcome."""

    client: int
    seq: int
    kind: str
    db: int
    key: str
    member: str
    amount: int
    start: float
    end: float = 0.0
    type: str = UNKNOWN  # ok | fail | unknown
    result: Any = None
    error: str = ""
    wait_n: int | None = None  # WAIT n issued after the write (None: no WAIT)
    wait_acks: int | None = None  # what WAIT returned (None: not issued or its reply was lost)

    @property
    def spec(self) -> OpSpec:
        return OpSpec(self.client, self.seq, self.kind, self.db, self.key, self.member, self.amount)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class History:
    """Thread-safe, append-only list of ops (clients append concurrently)."""

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self._ops: list[Op] = list(ops)
        self._lock = threading.Lock()

    def add(self, op: Op) -> None:
        with self._lock:
            self._ops.append(op)

    @property
    def ops(self) -> list[Op]:
        with self._lock:
            return list(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def by_type(self, kind: str) -> list[Op]:
        return [op for op in self.ops if op.type == kind]

    def counts(self) -> dict[str, int]:
        out = {OK: 0, FAIL: 0, UNKNOWN: 0}
        for op in self.ops:
            out[op.type] = out.get(op.type, 0) + 1
        return out

    def keys(self) -> dict[tuple[int, str], str]:
        """(db, key) -> Redis type for every key the history touched."""
        return {(op.db, op.key): WRITE_KINDS[op.kind] for op in self.ops}

    def per_key(self) -> dict[tuple[int, str], list[Op]]:
        """Ops per key in issue order (each key has one owning client, so this is apply order)."""
        out: dict[tuple[int, str], list[Op]] = {}
        for op in sorted(self.ops, key=lambda o: (o.client, o.seq)):
            out.setdefault((op.db, op.key), []).append(op)
        return out

    def to_json(self) -> str:
        return json.dumps([op.to_dict() for op in self.ops])

    @classmethod
    def from_json(cls, text: str) -> History:
        try:
            return cls(Op(**row) for row in json.loads(text))
        except (ValueError, TypeError) as exc:
            raise WorkloadError(f"not a workload history: {exc}") from None

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path


@dataclass
class WorkloadPlan:
    """All clients' planned ops; a pure function of (seed, clients, ops_per_client, dbs, kinds)."""

    seed: int
    clients: int = 3
    ops_per_client: int = 200
    dbs: tuple[int, ...] = (0, 1, 2)
    kinds: tuple[str, ...] = tuple(WRITE_KINDS)
    keys_per_kind: int = 2
    prefix: str = "wl"
    per_client: list[list[OpSpec]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.clients < 1 or self.ops_per_client < 0 or self.keys_per_kind < 1:
            raise WorkloadError(
                f"workload needs clients >= 1, ops_per_client >= 0, keys_per_kind >= 1 "
                f"(got {self.clients}, {self.ops_per_client}, {self.keys_per_kind})"
            )
        unknown = [k for k in self.kinds if k not in WRITE_KINDS]
        if unknown or not self.kinds:
            raise WorkloadError(
                f"unknown write kind(s) {unknown or '(none given)'}: choose from {', '.join(WRITE_KINDS)}"
            )
        if not self.dbs or any(db < 0 or db > 15 for db in self.dbs):
            raise WorkloadError(f"dbs must be a non-empty list of 0..15, got {self.dbs}")
        self.per_client = [self._plan_client(c) for c in range(self.clients)]

    def _plan_client(self, client: int) -> list[OpSpec]:
        rng = random.Random(f"workload:{self.seed}:{client}")
        ops: list[OpSpec] = []
        for seq in range(self.ops_per_client):
            kind = rng.choice(self.kinds)
            slot = rng.randrange(self.keys_per_kind)
            db = self.dbs[(slot + WRITE_KINDS_INDEX[kind]) % len(self.dbs)]
            base = f"{self.prefix}:{kind}:{client}:{slot}"
            tag = f"{client}.{seq}"
            if kind == "incrby":
                ops.append(OpSpec(client, seq, kind, db, base, amount=rng.randint(1, 9)))
            elif kind == "zadd":
                ops.append(OpSpec(client, seq, kind, db, base, member=tag, amount=seq))
            elif kind == "set":
                ttl = 3600 if rng.random() < 0.2 else 0
                ops.append(OpSpec(client, seq, kind, db, f"{self.prefix}:set:{tag}", member=f"v{seq}", ttl=ttl))
            elif kind == "hset":
                ops.append(OpSpec(client, seq, kind, db, base, member=f"f{seq}"))
            else:
                ops.append(OpSpec(client, seq, kind, db, base, member=tag))
        return ops

    def all_ops(self) -> list[OpSpec]:
        return [op for ops in self.per_client for op in ops]

    def keys(self) -> dict[tuple[int, str], str]:
        """(db, key) -> Redis type of every key the plan writes (known before it runs)."""
        return {(op.db, op.key): op.rtype for op in self.all_ops()}

    def fingerprint(self) -> str:
        """A short stable digest of the plan: equal seeds must give equal fingerprints."""
        import hashlib

        text = json.dumps([asdict(op) for op in self.all_ops()], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


WRITE_KINDS_INDEX = {kind: i for i, kind in enumerate(WRITE_KINDS)}


# --- reading the workload's keys back ------------------------------------------------------

State = dict[tuple[int, str], Any]  # (db, key) -> int | list[str] | set[str] | dict | str | None


def read_state(client: redis.Redis, keys: dict[tuple[int, str], str]) -> State:
    """Read exactly the workload's keys, type-aware, in ONE transaction across all dbs.

    One MULTI/EXEC (with SELECTs inside) makes the read a single point in the replication
    stream: reading db 0 and db 1 separately would let the replica apply writes in between,
    and a prefix checker would then see a "hole" that never existed.

    Values are normalised so checkers can compare them: counters as int, lists as list,
    sets as set, hashes as dict, sorted sets as dict member -> score, strings as str; a
    missing key reads as None. `client` must decode responses; its db is restored after.
    """
    state: State = {}
    items = sorted(keys.items())
    if not items:
        return state
    pipe = client.pipeline(transaction=True)
    plan: list[tuple[int, str, str] | None] = []
    current_db = None
    for (db, key), rtype in items:
        if db != current_db:
            pipe.execute_command("SELECT", db)
            plan.append(None)
            current_db = db
        plan.append((db, key, _queue_read(pipe, key, rtype)))
    pipe.execute_command("SELECT", client.connection_pool.connection_kwargs.get("db", 0))
    plan.append(None)
    try:
        replies = pipe.execute(raise_on_error=False)
    except redis.RedisError as exc:
        raise WorkloadError(f"reading the workload's keys failed: {exc}") from exc
    for entry, reply in zip(plan, replies, strict=True):
        if entry is None:
            continue
        db, key, kind = entry
        if isinstance(reply, Exception):
            raise WorkloadError(f"reading {key!r} in db {db} failed: {reply}")
        state[(db, key)] = _normalise(kind, reply)
    return state


def _queue_read(pipe: Any, key: str, rtype: str) -> str:
    prefix_kind = key.split(":")[1] if ":" in key else ""
    if prefix_kind == "incrby":
        pipe.get(key)
        return "counter"
    if rtype == "list":
        pipe.lrange(key, 0, -1)
    elif rtype == "set":
        pipe.smembers(key)
    elif rtype == "hash":
        pipe.hgetall(key)
    elif rtype == "zset":
        pipe.zrange(key, 0, -1, withscores=True)
    else:
        pipe.get(key)
    return rtype


def _normalise(kind: str, reply: Any) -> Any:
    if kind == "counter":
        return None if reply is None else int(reply)
    if kind == "list":
        return list(reply) or None
    if kind == "set":
        return set(reply) or None
    if kind == "hash":
        return dict(reply) or None
    if kind == "zset":
        return {m: float(s) for m, s in reply} or None
    return reply


@dataclass
class StateSample:
    """One node's workload keys, read atomically at time t (for prefix checks)."""

    t: float
    node: str
    state: State


class StateSampler:
    """Reads the workload's keys on some nodes every `interval` seconds in the background.

    Read errors (a node down, loading, paused) are counted, not raised: a fault is expected
    to make nodes unreadable now and then, and a missing sample is not evidence of anything.
    """

    def __init__(self, clients: dict[str, Callable[[], redis.Redis]], keys: dict[tuple[int, str], str],
                 interval: float = 0.2) -> None:
        if interval <= 0:
            raise WorkloadError(f"sampling interval must be positive, got {interval}")
        self.clients = clients
        self.keys = keys
        self.interval = interval
        self.samples: list[StateSample] = []
        self.errors: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="state-sampler", daemon=True)

    def sample_once(self) -> None:
        for name, make in self.clients.items():
            try:
                conn = make()
                try:
                    state = read_state(conn, self.keys)
                finally:
                    conn.close()
            except (redis.RedisError, OSError, WorkloadError):
                self.errors[name] = self.errors.get(name, 0) + 1
                continue
            self.samples.append(StateSample(time.time(), name, state))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_once()

    def __enter__(self) -> StateSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


# --- running the plan against a live master ------------------------------------------------

def connection_factory(host: str, port: int, password: str | None = None,
                       timeout: float = 2.0) -> Callable[[int], redis.Connection]:
    """`connect(db)` for Workload: single raw connections with redis-py's retries switched off.

    redis-py retries a failed command by default; a retried write whose first reply was lost
    could be applied twice and would make the op's outcome unknowable, so the workload talks
    through bare connections it controls.
    """
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    def connect(db: int) -> redis.Connection:
        return redis.Connection(host=host, port=port, db=db, password=password,
                                socket_timeout=timeout, socket_connect_timeout=timeout,
                                retry=Retry(NoBackoff(), 0), decode_responses=True)

    return connect


class Workload:
    """Runs a plan against a master with one thread per client, recording every op.

    `connect(db)` returns a fresh, not yet connected `redis.Connection` for the master's db
    (see `connection_factory`). Clients never retry a write; after a lost reply they drop the
    connection and open a new one for the next op.
    """

    def __init__(self, plan: WorkloadPlan, connect: Callable[[int], redis.Connection], *,
                 wait_replicas: int | None = None, wait_timeout_ms: int = 200,
                 pace: float = 0.0, history: History | None = None,
                 on_op: Callable[[Op], None] | None = None) -> None:
        if wait_replicas is not None and wait_replicas < 0:
            raise WorkloadError(f"wait_replicas must be >= 0, got {wait_replicas}")
        if pace < 0:
            raise WorkloadError(f"pace must be >= 0 seconds, got {pace}")
        self.plan = plan
        self.connect = connect
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.pace = pace
        self.history = history if history is not None else History()
        self.on_op = on_op
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> Workload:
        for client, specs in enumerate(self.plan.per_client):
            thread = threading.Thread(target=self._run_client, args=(client, specs),
                                      name=f"workload-{client}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> History:
        """Wait for every client to finish its plan; raise if one is still running at the deadline."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            self._stop.set()
            raise WorkloadError(f"workload clients {alive} still running after {timeout:.1f}s "
                                f"({len(self.history)} ops recorded)")
        if self._errors:
            raise WorkloadError(f"workload client crashed: {self._errors[0]!r}")
        return self.history

    def run(self, timeout: float = 60.0) -> History:
        """Run the whole plan in the foreground."""
        self.start()
        return self.join(timeout)

    def __enter__(self) -> Workload:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10.0)

    # one client --------------------------------------------------------------------------
    def _run_client(self, client: int, specs: Sequence[OpSpec]) -> None:
        conns: dict[int, redis.Connection] = {}
        try:
            for spec in specs:
                if self._stop.is_set():
                    break
                op = self._execute(spec, conns)
                self.history.add(op)
                if self.on_op is not None:
                    self.on_op(op)
                if self.pace:
                    self._stop.wait(self.pace)
        except BaseException as exc:  # a bug in the harness, not in the server: surface it
            self._errors.append(exc)
        finally:
            for conn in conns.values():
                conn.disconnect()

    def _execute(self, spec: OpSpec, conns: dict[int, redis.Connection]) -> Op:
        op = Op(spec.client, spec.seq, spec.kind, spec.db, spec.key, spec.member, spec.amount,
                start=time.time(), wait_n=self.wait_replicas)
        try:
            conn = conns.get(spec.db)
            if conn is None:
                conn = self.connect(spec.db)
                conns[spec.db] = conn
            try:
                conn.connect()  # no-op when connected; AUTH + SELECT happen here
            except (redis.RedisError, OSError) as exc:
                # Nothing of this write was sent: a definite failure.
                op.type, op.error = FAIL, f"not sent: {exc}"
                self._drop(spec.db, conns)
                return op
            try:
                conn.send_command(*spec.command())
                op.result = conn.read_response()
                op.type = OK
            except redis.ResponseError as exc:
                op.type, op.error = FAIL, str(exc)
            except (redis.RedisError, OSError) as exc:
                op.type, op.error = UNKNOWN, f"reply lost: {exc}"
                self._drop(spec.db, conns)
                return op
            if op.type == OK and self.wait_replicas is not None:
                try:
                    conn.send_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
                    op.wait_acks = int(conn.read_response())
                except (redis.RedisError, OSError) as exc:
                    op.error = f"WAIT failed: {exc}"
                    self._drop(spec.db, conns)
        finally:
            op.end = time.time()
        return op

    @staticmethod
    def _drop(db: int, conns: dict[int, redis.Connection]) -> None:
        conn = conns.pop(db, None)
        if conn is not None:
            conn.disconnect()
