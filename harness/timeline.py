"""Periodic INFO replication samples of every live node while a test runs.

The samples are the raw material of the report's timeline (offsets, lag, link state over
time). Sampling is an observer, never a participant: a node that is down, paused or slow is
recorded as unreachable and the sampler moves on, because a sampler that stalls or raises
would turn a replication bug into a harness bug. Each read uses its own short socket timeout
so a SIGSTOPped node costs one timeout per round, not a hang.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.nodes.base import parse_info
from harness.recorder import TestRecorder

# The INFO replication fields the report plots; everything else is dropped to keep memory small.
FIELDS = (
    "role",
    "master_repl_offset",
    "slave_repl_offset",
    "master_link_status",
    "master_sync_in_progress",
    "connected_slaves",
    "master_link_down_since_seconds",
)

DEFAULT_INTERVAL = 0.15
FAST_INTERVAL = 0.05  # for the first FAST_SECONDS: most suites are short and set up in 100s of ms
FAST_SECONDS = 3.0
DEFAULT_TIMEOUT = 0.2
DEFAULT_MAX_SAMPLES = 4000  # per test, all nodes together


def read_fields(node: Any, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """One INFO replication reading, trimmed to FIELDS; unreachable nodes say why instead.

    A fresh connection per reading is deliberate: a pooled socket that timed out mid-reply
    would hand the next reading the previous reply's tail.
    """
    state = getattr(getattr(node, "state", None), "value", None)
    if state in ("paused", "stopped", "killed"):
        return {"reachable": False, "state": state}
    try:
        # no retries: redis-py retries timeouts with backoff by default, which would turn a
        # 0.2 s timeout on a frozen node into seconds of a stalled sampler
        conn = node.client(timeout=timeout, retry=Retry(NoBackoff(), 0))
    except Exception as exc:  # noqa: BLE001 - a sampler must never raise into a test
        return {"reachable": False, "error": _short(exc)}
    try:
        conn.set_response_callback("INFO", lambda response, **_: response)
        raw = conn.execute_command("INFO", "replication")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        info = parse_info(text)
    except Exception as exc:  # noqa: BLE001 - timeouts, refused connections, LOADING, auth errors
        return {"reachable": False, "error": _short(exc)}
    finally:
        with contextlib.suppress(Exception):
            conn.close()
    fields: dict[str, Any] = {k: info[k] for k in FIELDS if k in info}
    fields["reachable"] = True
    return fields


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:160]


class Sampler:
    """A daemon thread that samples the recorder's live nodes until `stop()`.

    It samples every FAST_INTERVAL for the first FAST_SECONDS (a typical suite test is over
    in a second, and its setup is where the full sync happens), then every `interval`.

    Memory is bounded: when the test has produced `max_samples` samples the sampler thins its
    own samples to every other one and doubles its interval, so a ten-minute chaos test keeps
    its whole time span at a coarser resolution instead of losing the end.
    """

    def __init__(
        self,
        recorder: TestRecorder,
        interval: float = DEFAULT_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        if interval <= 0 or timeout <= 0 or max_samples < 2:
            raise ValueError("interval and timeout must be positive and max_samples at least 2")
        self.recorder = recorder
        self.interval = interval
        self.timeout = timeout
        self.max_samples = max_samples
        self.rounds = 0
        self.errors = 0  # readings that failed (the node was unreachable)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._began = time.monotonic()

    def start(self) -> Sampler:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._run, name=f"timeline-sampler:{self.recorder.nodeid}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop and join; one last round is taken first so the end state is on the timeline."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sample_once(self) -> None:
        """Read every live node once (also used directly by tests of the sampler)."""
        for name, node in self.recorder.live_nodes().items():
            if getattr(getattr(node, "state", None), "value", None) == "new":
                continue  # registered but not started yet: nothing to show, nothing is wrong
            try:
                fields = read_fields(node, self.timeout)
            except Exception as exc:  # noqa: BLE001 - defensive: a node object may be half-built
                fields = {"reachable": False, "error": _short(exc)}
            if not fields.get("reachable"):
                self.errors += 1
            self.recorder.sample(name, fields)
        self.rounds += 1
        if len(self.recorder.samples) >= self.max_samples:
            self._thin()

    def _thin(self) -> None:
        """Keep every other sample of each node and slow down (bounded memory, full span)."""
        lock = getattr(self.recorder, "_lock", None) or contextlib.nullcontext()
        with lock:
            seen: dict[str, int] = {}
            kept = []
            for sample in self.recorder.samples:
                index = seen.get(sample.node, 0)
                seen[sample.node] = index + 1
                if index % 2 == 0:
                    kept.append(sample)
            self.recorder.samples[:] = kept
        self.interval *= 2

    def _run(self) -> None:
        self._began = time.monotonic()
        while True:
            started = time.monotonic()
            try:
                self.sample_once()
            except Exception:  # noqa: BLE001 - never let the thread die with a traceback
                self.errors += 1
            if self._stop.is_set():
                return
            elapsed = time.monotonic() - started
            interval = self.interval
            if started - self._began < FAST_SECONDS:
                interval = min(interval, FAST_INTERVAL)
            if self._stop.wait(max(0.0, interval - elapsed)):
                with contextlib.suppress(Exception):
                    self.sample_once()
                return
