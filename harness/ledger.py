"""The sync ledger: how each (re)connection of a replica was served, full or partial.

Redis's own tests prove full-versus-partial with the master's counters `sync_full`,
`sync_partial_ok` and `sync_partial_err`; we do the same, taking a reading before a fault and
after the link is back, and writing the difference into the test's recorder so the report
can show it next to the timeline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from harness.recorder import current as current_recorder


@dataclass(frozen=True)
class SyncCounters:
    full: int
    partial_ok: int
    partial_err: int

    @classmethod
    def read(cls, node: Any) -> SyncCounters:
        stats = node.info("stats")
        return cls(int(stats["sync_full"]), int(stats["sync_partial_ok"]), int(stats["sync_partial_err"]))

    def __sub__(self, other: SyncCounters) -> SyncCounters:
        return SyncCounters(self.full - other.full, self.partial_ok - other.partial_ok,
                            self.partial_err - other.partial_err)

    @property
    def kind(self) -> str:
        """What a delta says happened: 'full', 'partial', 'none' or 'mixed'."""
        if self.full and not self.partial_ok:
            return "full"
        if self.partial_ok and not self.full:
            return "partial"
        if not self.full and not self.partial_ok:
            return "none"
        return "mixed"


class SyncWatch:
    """Counters of one master, read at the start; `.delta()` later gives what happened since."""

    def __init__(self, master: Any, label: str = "") -> None:
        self.master = master
        self.label = label or master.name
        self.before = SyncCounters.read(master)
        self.started = time.time()

    def delta(self, record: bool = True) -> SyncCounters:
        change = SyncCounters.read(self.master) - self.before
        if record:
            current_recorder().add_ledger({
                "master": self.master.name,
                "what": self.label,
                "kind": change.kind,
                "sync_full": change.full,
                "sync_partial_ok": change.partial_ok,
                "sync_partial_err": change.partial_err,
                "start": self.started,
                "end": time.time(),
            })
        return change
