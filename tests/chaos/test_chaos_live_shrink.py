"""A planted bug on real servers is caught by the checkers and shrunk to the one fault that causes it.

The bug lives in a fault double, `drop7`: while its window is open, the writable replica r1
silently loses every 7th element of the workload's lists — the behaviour of a replica that
drops writes. Mixed into a seeded random schedule of genuine link faults, it must make the
checks fail, and the shrinker must reduce the schedule to exactly that step. One server is
enough: the bug is in the double, not in Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from harness import faults
from harness.checks import CheckFailed, require, verify_run
from harness.faults import FaultKind
from harness.nodes.base import HarnessError
from harness.schedule import (
    Schedule,
    ScheduleRun,
    Step,
    generate,
    shrink,
    targets_from_description,
    validate,
)
from harness.workload import StateSampler, Workload, WorkloadPlan, connection_factory

TOPOLOGY = "m <- r1, r2"
SEED = 20261125
LINK_KINDS = ("partition", "latency", "bandwidth", "blackhole", "reset", "slicer")


@contextlib.contextmanager
def drop_every_7th(node, keys) -> Iterator[None]:
    """The planted bug: r1 loses every 7th element of each workload list, once, at the start."""
    with node.client() as conn:
        for (db, key), rtype in keys.items():
            if rtype != "list":
                continue
            conn.execute_command("SELECT", db)
            items = conn.lrange(key, 0, -1)
            for item in items[6::7]:
                conn.lrem(key, 1, item)
    yield


def run_case(topology_factory, schedule: Schedule) -> str | None:
    topo = topology_factory(TOPOLOGY, directives={"*": [("repl-timeout", "3")],
                                                  "r1": [("replica-read-only", "no")]})
    plan = WorkloadPlan(seed=SEED, clients=2, ops_per_client=120)
    m = topo.node("m")

    def apply(step: Step):
        if step.kind == "drop7":
            return drop_every_7th(topo.node(step.target), plan.keys())
        return faults.apply(topo, step.kind, step.target, **step.param_dict)

    try:
        wl = Workload(plan, connection_factory(m.host, m.port), pace=0.02)
        sampler = StateSampler({n: (lambda n=n: topo.node(n).client(timeout=2.0)) for n in ("r1", "r2")},
                               plan.keys(), interval=0.25)
        with sampler:
            wl.start()
            ScheduleRun(schedule, apply).run()
            wl.join(60)
        require(verify_run(topo, wl.history, samples=sampler.samples, liveness_bound=20))
        return None
    except (CheckFailed, HarnessError) as exc:
        return str(exc)
    finally:
        for node in topo.nodes.values():
            node.cleanup()


@pytest.mark.slow
def test_planted_replica_bug_is_caught_and_shrunk_on_a_real_server(topology_factory, server, harness_session,
                                                                   monkeypatch, recorder):
    """Random link faults plus one buggy step: the checks fail, and shrinking leaves only that step."""
    if server.label != harness_session.targets[0].label:
        pytest.skip("one server is enough: the planted bug is in the test double, not in Redis")
    monkeypatch.setitem(faults.KINDS, "drop7", FaultKind("drop7", "node", help="planted bug"))
    nodes, edges = targets_from_description(TOPOLOGY)
    # The first seed from SEED whose random schedule has at least 3 link faults (pure, instant).
    base = next(b for b in (generate(SEED + i, nodes, edges, run_length=4.0, max_faults=4, kinds=LINK_KINDS,
                                     max_duration=1.0) for i in range(100)) if len(b.steps) >= 3)
    schedule = validate(Schedule(base.steps + [Step.make("drop7", "r1", 2.5, 0.4)], 4.0, SEED), nodes, edges)

    failure = run_case(topology_factory, schedule)
    assert failure is not None, "the planted bug went unnoticed"
    assert "stale" in failure and "r1" in failure

    result = shrink(schedule, lambda s: run_case(topology_factory, s) is not None, max_runs=8)
    recorder.meta["shrunk_schedule"] = result.schedule.to_dict()
    print("\n".join(result.trail))
    assert [(s.kind, s.target) for s in result.schedule.steps] == [("drop7", "r1")], result.trail
