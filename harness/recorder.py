"""What happened during one test, in time order: the raw material of timelines and reports.

Nodes, the network and the topology write into the recorder of the running test; the
timeline sampler adds periodic INFO samples; the report reads it all after the test. A test
that runs outside pytest (or before the plugin set a recorder) gets a throwaway recorder, so
recording never needs an `if`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Event:
    """A point event (end is None) or a window (fault, outage) with a start and an end."""

    kind: str  # "fault", "node", "topology", "sync", "note"
    name: str  # "latency", "kill", "replicaof", ...
    target: str  # node name ("m") or edge name ("r1->m")
    start: float  # time.time()
    end: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sample:
    """One INFO replication reading of one node (taken by the timeline sampler)."""

    t: float
    node: str
    fields: dict[str, Any]


@dataclass
class NodeRef:
    name: str
    label: str  # ServerBuild.label
    address: str
    log_path: str | None = None


class TestRecorder:
    """The record of one test. Thread-safe: the sampler thread appends while the test runs."""

    __test__ = False  # not a pytest test class

    def __init__(self, nodeid: str = "") -> None:
        self.nodeid = nodeid
        self.started = time.time()
        self.nodes: dict[str, NodeRef] = {}
        self.events: list[Event] = []
        self.samples: list[Sample] = []
        self.ledger: list[dict[str, Any]] = []  # sync ledger rows, see harness.checks
        self.hazards: list[str] = []  # documented Redis dangers reproduced by this test
        self.meta: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._node_objects: dict[str, Any] = {}

    # nodes ---------------------------------------------------------------------------------
    def add_node(self, node: Any) -> None:
        """Register a harness Node so the sampler can read it and the report can show its log."""
        log_path = getattr(node, "log_path", None)
        with self._lock:
            self.nodes[node.name] = NodeRef(node.name, node.build.label, node.address,
                                            str(log_path) if log_path else None)
            self._node_objects[node.name] = node

    def live_nodes(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._node_objects)

    # events --------------------------------------------------------------------------------
    def event(self, kind: str, name: str, target: str, **detail: Any) -> Event:
        ev = Event(kind, name, target, time.time(), None, detail)
        with self._lock:
            self.events.append(ev)
        return ev

    def close(self, ev: Event) -> None:
        if ev.end is None:
            ev.end = time.time()

    @contextlib.contextmanager
    def window(self, kind: str, name: str, target: str, **detail: Any) -> Iterator[Event]:
        """Record a window (a fault while it is active); closed even when the body raises."""
        ev = self.event(kind, name, target, **detail)
        try:
            yield ev
        finally:
            self.close(ev)

    def sample(self, node: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self.samples.append(Sample(time.time(), node, fields))

    def hazard(self, description: str) -> None:
        """Mark that this test reproduced a documented Redis danger (shown as 'hazard')."""
        with self._lock:
            self.hazards.append(description)

    def add_ledger(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.ledger.append(row)


_current: TestRecorder = TestRecorder("<no test>")


def current() -> TestRecorder:
    """The recorder of the running test (a throwaway one outside pytest)."""
    return _current


def set_current(recorder: TestRecorder | None) -> None:
    global _current
    _current = recorder if recorder is not None else TestRecorder("<no test>")
