"""Chaos: seeded random fault schedules against a running workload, shrunk when they fail.

The chaos seed (``--chaos-seed``, or derived from ``--harness-seed``) fixes both the workload
and the schedule, so the printed rerun line replays the same case. A failing schedule is
shrunk by rerunning it with fewer and simpler faults; the minimal one is printed, stored in
the test's record (``shrunk_schedule``) and written as JSON under the report directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from chaos_support import workload

from harness.checks import CheckFailed, require, verify_run
from harness.faults import step_applier
from harness.nodes.base import HarnessError
from harness.schedule import (
    Schedule,
    ScheduleRun,
    derive_seed,
    generate,
    rerun_line,
    shrink,
    targets_from_description,
)

pytestmark = pytest.mark.family("chaos: random schedules")

TOPOLOGY = "m <- r1, r2"
DIRECTIVES = {"*": [("repl-timeout", "3"), ("repl-ping-replica-period", "1")]}
RUN_LENGTH = 5.0
SHRINK_RUNS = 6  # each rerun costs a whole scenario (~8 s): keep CI bounded


def run_case(topology_factory, seed: int, schedule: Schedule) -> str | None:
    """One full scenario; None if every check passed, else the evidence."""
    topo = topology_factory(TOPOLOGY, directives=DIRECTIVES)
    try:
        with workload(topo, seed, ops=150, pace=0.02, sample=("r1", "r2"), timeout=60) as run:
            # In this thread: node restarts must outlive the step that made them.
            ScheduleRun(schedule, step_applier(topo)).run()
        require(verify_run(topo, run.history, samples=run.samples, liveness_bound=20))
        return None
    except (CheckFailed, HarnessError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        for node in topo.nodes.values():
            node.cleanup()


@pytest.mark.parametrize("case", [0, 1])
def test_random_fault_schedule(topology_factory, settings, recorder, request, chaos_seed, case):
    """A seeded mix of link and replica faults under load: no lost, reordered or stale data afterwards."""
    seed = derive_seed(chaos_seed, f"random-schedule-{case}")
    nodes, edges = targets_from_description(TOPOLOGY)
    # Generated and validated before any node starts.
    schedule = generate(seed, nodes, edges, run_length=RUN_LENGTH, max_faults=4,
                        node_targets=["r1", "r2"])
    recorder.meta["schedule"] = schedule.to_dict()
    print(f"case seed {seed}; schedule:\n  " + "\n  ".join(schedule.describe()))
    failure = run_case(topology_factory, seed, schedule)
    if failure is None:
        return
    line = rerun_line(settings, request.node.nodeid, chaos_seed)
    result = shrink(schedule, lambda s: run_case(topology_factory, seed, s) is not None,
                    max_runs=SHRINK_RUNS)
    recorder.meta["shrunk_schedule"] = result.schedule.to_dict()
    safe = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    path = result.save(Path(settings.report_dir) / "chaos", f"{safe}.json")
    pytest.fail(
        f"{failure}\n\nchaos seed {chaos_seed} (case seed {seed})\nrerun: {line}\n"
        f"shrunk schedule after {result.runs} reruns ({path}):\n  "
        + "\n  ".join(result.schedule.describe() or ["(no faults: fails without any fault)"])
        + "\n" + json.dumps(result.schedule.to_dict()),
        pytrace=False,
    )
