"""A planted replication bug is caught by the checkers and shrunk to a minimal schedule.

The double (chaos_sim.py) has a replica that, when it resyncs partially after a `reset`
fault, drops every 7th replayed write. Random schedules mixing many faults trip it; the
shrinker must reduce the failing schedule to the one reset that matters, and rerunning the
same seed must reproduce the same schedule, workload and verdict.
"""

from __future__ import annotations

import json

from chaos_sim import run_sim

from harness.checks import check_convergence, check_state
from harness.schedule import Schedule, generate, shrink, targets_from_description
from harness.workload import WorkloadPlan

NODES, EDGES = targets_from_description("m <- r1, r2")
KINDS = ("partition", "latency", "bandwidth", "blackhole", "reset", "slicer", "pause")


def scenario(seed: int, schedule: Schedule | None = None):
    """The whole seeded case: workload and schedule from the seed, then the checks."""
    plan = WorkloadPlan(seed=seed, clients=3, ops_per_client=80)
    schedule = schedule or generate(seed, NODES, EDGES, run_length=6.0, max_faults=6, kinds=KINDS,
                                    node_targets=["r1", "r2"])
    sim = run_sim(plan, schedule, bug="reset")
    conv = check_convergence(sim.master, sim.replicas, "m")
    complete = [check_state(s, sim.history, name, complete=True) for name, s in sim.replicas.items()]
    failed = not conv.ok or not all(c.ok for c in complete)
    return plan, schedule, sim, conv, failed


def find_failing_seed():
    for seed in range(1, 400):
        _plan, schedule, _sim, _conv, failed = scenario(seed)
        if failed and len(schedule.steps) >= 4:
            return seed
    raise AssertionError("no seed in 1..399 produced a failing schedule with >= 4 steps")


def test_clean_double_passes_under_every_fault():
    for seed in range(1, 30):
        plan = WorkloadPlan(seed=seed, clients=3, ops_per_client=80)
        schedule = generate(seed, NODES, EDGES, run_length=6.0, max_faults=6, kinds=KINDS,
                            node_targets=["r1", "r2"])
        sim = run_sim(plan, schedule, bug=None)
        assert check_convergence(sim.master, sim.replicas).ok


def test_planted_bug_is_caught_and_shrunk_to_one_reset(tmp_path):
    seed = find_failing_seed()
    _plan, schedule, _sim, conv, failed = scenario(seed)
    assert failed and conv.kinds() == {"stale"}
    assert len(schedule.steps) >= 4

    def fails(candidate: Schedule) -> bool:
        return scenario(seed, candidate)[4]

    result = shrink(schedule, fails)
    shrunk = result.schedule
    assert len(shrunk.steps) == 1, shrunk.describe()
    assert shrunk.steps[0].kind == "reset"
    assert fails(shrunk)
    assert not fails(Schedule([], shrunk.run_length))  # 1-minimal: without it the case passes
    path = result.save(tmp_path)
    saved = json.loads(path.read_text())
    assert saved["shrunk"]["steps"][0]["kind"] == "reset"
    assert saved["runs"] == result.runs and result.runs <= 60


def test_rerun_with_the_same_seed_reproduces_exactly():
    seed = find_failing_seed()
    plan1, schedule1, sim1, conv1, failed1 = scenario(seed)
    plan2, schedule2, sim2, conv2, failed2 = scenario(seed)
    assert schedule1.to_dict() == schedule2.to_dict()
    assert plan1.all_ops() == plan2.all_ops()
    assert failed1 and failed2
    assert conv1.report() == conv2.report()
    assert sim1.replicas == sim2.replicas
