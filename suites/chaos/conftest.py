"""Fixtures of the chaos suites: the chaos seed, printed with the line that reruns the test."""

from __future__ import annotations

import pytest

from harness.schedule import chaos_seed_for, rerun_line


@pytest.fixture
def chaos_seed(settings, recorder, request) -> int:
    """--chaos-seed, or derived from the root seed; recorded and printed with the rerun line."""
    seed = chaos_seed_for(settings)
    line = rerun_line(settings, request.node.nodeid, seed)
    recorder.meta["chaos_seed"] = seed
    recorder.meta["rerun"] = line
    print(f"chaos seed {seed}; rerun: {line}")
    return seed
