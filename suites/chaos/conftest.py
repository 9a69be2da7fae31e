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


@pytest.fixture
def chaos_verify(settings, request):
    """`chaos_verify(topology, run, **kw)`: verify_run + require; on failure the op history is saved.

    The history (every op with its outcome and timestamps) is what a person needs to follow a
    lost or reordered write, so it goes to <report-dir>/chaos/<test>-history.json and the
    failure message says where.
    """
    import re
    from pathlib import Path

    from harness.checks import CheckFailed, require, verify_run

    def verify(topology, run, **kwargs):
        results = verify_run(topology, run.history, samples=run.samples, **kwargs)
        try:
            require(results)
        except CheckFailed as exc:
            safe = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
            path = run.history.save(Path(settings.report_dir) / "chaos" / f"{safe}-history.json")
            raise CheckFailed(f"{exc}\nop history: {path}") from None
        return results

    return verify
