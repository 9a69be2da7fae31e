"""What the whole pytest session shares: settings, the servers found, the Toxiproxy in use.

The pytest plugin fills a `SessionInfo` once and stores it in `config.stash[SESSION_KEY]`;
the report plugin and fixtures read it from there. Each test's `TestRecorder` is stored in
`item.stash[RECORDER_KEY]` so hooks that run after the test can still reach it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.config import Settings
from harness.nodes.base import ServerBuild
from harness.recorder import TestRecorder


@dataclass
class Target:
    """What one parametrized run of a suite is run against: one build, or a mixed pair.

    `label` is the column of the conformance matrix: ``redis-7.0.15``, ``pyredis``,
    ``mixed:redis-7.0.15>pyredis`` (master build > replica build).
    """

    label: str
    master: ServerBuild
    replica: ServerBuild

    @property
    def mixed(self) -> bool:
        return self.master != self.replica

    def build_for(self, role: str) -> ServerBuild:
        return self.master if role == "master" else self.replica


@dataclass
class SessionInfo:
    settings: Settings
    builds: list[ServerBuild] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # servers looked for and not found, with how to get them
    toxiproxy_url: str = ""
    toxiproxy_kind: str = ""  # "embedded" or "external"
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)


SESSION_KEY = pytest.StashKey[SessionInfo]()
RECORDER_KEY = pytest.StashKey[TestRecorder]()
