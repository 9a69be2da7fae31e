"""What the chaos suites share: bulk data, a running workload with samples, sync predictions.

Kept out of conftest.py so the suites can import plain functions (pytest puts this
directory on sys.path because it has no __init__.py).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.checks import LedgerRow, PsyncRequest, check_ledger, expected_resync
from harness.ledger import SyncWatch
from harness.waits import wait_until
from harness.workload import (
    History,
    StateSample,
    StateSampler,
    Workload,
    WorkloadPlan,
    connection_factory,
)

# Directives that make timeouts the point of a test happen in seconds, not a minute.
FAST_TIMEOUTS = [("repl-timeout", "2"), ("repl-ping-replica-period", "1")]


def bulk_load(node: Any, keys: int, size: int, prefix: str = "bulk", db: int = 0) -> None:
    """Write `keys` string keys of `size` bytes (pipelined): enough bytes to make a sync take room.

    Values are seeded pseudo-random hex, not a repeated character: the RDB writer compresses
    ("xxxx…" shrinks to a few bytes), and a snapshot meant to be 1 MB must stay 1 MB on the wire.
    """
    import random

    rng = random.Random(f"{prefix}:{keys}:{size}")
    value = rng.randbytes((size + 1) // 2).hex()[:size]
    with node.client() as conn:
        if db:
            conn.execute_command("SELECT", db)
        pipe = conn.pipeline(transaction=False)
        for i in range(keys):
            pipe.set(f"{prefix}:{i}", value)
            if i % 500 == 499:
                pipe.execute()
        pipe.execute()


def dbsize(node: Any) -> int:
    with node.client() as conn:
        return int(conn.dbsize())


def link(node: Any) -> str:
    return str(node.info("replication").get("master_link_status"))


def log_matches(node: Any, pattern: str) -> bool:
    return re.search(pattern, node.log_text()) is not None


def wait_log(node: Any, pattern: str, timeout: float) -> None:
    wait_until(lambda: log_matches(node, pattern), timeout=timeout,
               what=f"{node.name}'s log to match {pattern!r}")


def observe(probe: Any, seconds: float, interval: float = 0.1) -> list[Any]:
    """Read `probe` every `interval` for `seconds` while a fault is held: the duration is the point.

    Not a wait: it does not stop early, because the claim under test is "this stays true for
    the whole window" (e.g. a link stays up during a black hole shorter than repl-timeout).
    """
    import time

    values = []
    end = time.monotonic() + seconds
    while True:
        values.append(probe())
        left = end - time.monotonic()
        if left <= 0:
            return values
        time.sleep(min(interval, left))


def psync_request(replica: Any) -> PsyncRequest:
    """What the replica will put in PSYNC, read while its link is down (cached master's id/offset)."""
    info = replica.info("replication")
    return PsyncRequest(str(info.get("master_replid")), int(info.get("slave_repl_offset", -1)))


@dataclass
class Prediction:
    replica: str
    master: str
    expected: str
    reason: str


def predict(replica: Any, master: Any, master_info: dict[str, Any] | None = None) -> Prediction:
    """Redis's rule applied to the replica's cached state and the master's backlog right now."""
    info = master_info if master_info is not None else master.info("replication")
    expected, reason = expected_resync(psync_request(replica), info)
    return Prediction(replica.name, master.name, expected, reason)


def assert_resync(watch: SyncWatch, prediction: Prediction, wanted: str) -> None:
    """The master's counters show the predicted kind of resync, and it is the one the test expects."""
    observed = watch.delta().kind  # also writes the ledger row into the test's record
    from harness.recorder import current

    ledger = current().ledger
    if ledger:
        ledger[-1].update(replica=prediction.replica, expected=prediction.expected, reason=prediction.reason)
    check_ledger([LedgerRow(prediction.replica, prediction.master, observed,
                            prediction.expected, prediction.reason)]).check()
    assert prediction.expected == wanted, (
        f"the scenario did not set up a {wanted} resync: Redis's rules predict {prediction.expected} "
        f"({prediction.reason})")


@dataclass
class RunningWorkload:
    workload: Workload
    sampler: StateSampler | None
    history: History
    samples: list[StateSample] = field(default_factory=list)


@contextlib.contextmanager
def workload(topology: Any, seed: int, *, master: str = "m", clients: int = 3, ops: int = 120,
             pace: float = 0.01, sample: tuple[str, ...] = (), wait_replicas: int | None = None,
             wait_timeout_ms: int = 1000, timeout: float = 60.0) -> Iterator[RunningWorkload]:
    """Run a seeded workload on `master` (and sample `sample` replicas) for the block's duration.

    On exit the workload is allowed to finish its plan (bounded by `timeout`), so every op
    has an outcome before the checkers look.
    """
    node = topology.node(master)
    plan = WorkloadPlan(seed=seed, clients=clients, ops_per_client=ops)
    wl = Workload(plan, connection_factory(node.host, node.port, node.password, timeout=2.0),
                  pace=pace, wait_replicas=wait_replicas, wait_timeout_ms=wait_timeout_ms)
    sampler = None
    if sample:
        sampler = StateSampler({n: (lambda n=n: topology.node(n).client(timeout=2.0)) for n in sample},
                               plan.keys(), interval=0.2)
    running = RunningWorkload(wl, sampler, wl.history)
    wl.start()
    try:
        if sampler is not None:
            with sampler:
                yield running
                wl.join(timeout)
        else:
            yield running
            wl.join(timeout)
    finally:
        wl.stop()
        if sampler is not None:
            running.samples = list(sampler.samples)


def wait_ops(running: RunningWorkload, count: int, timeout: float = 20.0) -> None:
    wait_until(lambda: len(running.history), lambda n: n >= count, timeout=timeout,
               what=f"the workload to complete {count} ops")
