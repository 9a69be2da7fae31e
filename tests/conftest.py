"""The harness's own tests. A few of them run real topologies through the `server` fixture
(the live chaos shrink test, for one); that must not make `pytest tests/` overwrite the
conformance report of the last `pytest suites/` run."""

from __future__ import annotations

import pytest

from harness.session import SESSION_KEY


def pytest_sessionstart(session: pytest.Session) -> None:
    info = session.config.stash.get(SESSION_KEY, None)
    if info is not None:
        info.extra.setdefault("report", False)
