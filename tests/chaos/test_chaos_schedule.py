"""Schedules: validation before anything starts, determinism from the seed, JSON round trip."""

from __future__ import annotations

import pytest

from harness.faults import KINDS, FaultError, normalise_params
from harness.schedule import (
    Schedule,
    ScheduleError,
    Step,
    chaos_seed_for,
    derive_seed,
    generate,
    rerun_line,
    targets_from_description,
    validate,
)
from harness.workload import WorkloadError, WorkloadPlan

NODES, EDGES = targets_from_description("m <- r1, r2")


def test_topology_description_names():
    assert (NODES, EDGES) == ({"m", "r1", "r2"}, {"r1->m", "r2->m"})
    assert targets_from_description("m <- r1 <- r2") == ({"m", "r1", "r2"}, {"r1->m", "r2->r1"})
    assert targets_from_description("m <- r1, r2 <- r3")[1] == {"r1->m", "r2->m", "r3->r1"}
    with pytest.raises(ScheduleError, match="cannot read"):
        targets_from_description("m <- ")
    with pytest.raises(ScheduleError, match="cannot read"):
        targets_from_description("m, x <- r1")


def sched(*steps, run=10.0):
    return Schedule(list(steps), run)


@pytest.mark.parametrize("step, message", [
    (Step.make("earthquake", "m", 1, 1), "unknown fault 'earthquake'"),
    (Step.make("partition", "r9->m", 1, 1), "needs an edge of the topology"),
    (Step.make("partition", "m", 1, 1), "needs an edge"),
    (Step.make("kill", "r1->m", 1, 1), "needs a node"),
    (Step.make("latency", "r1->m", 1, -2), "negative duration"),
    (Step.make("latency", "r1->m", -1, 2), "negative time"),
    (Step.make("latency", "r1->m", 9, 2), "after the run"),
    (Step.make("latency", "r1->m", 1, 1, ms=-5), "ms must be >= 0"),
    (Step.make("latency", "r1->m", 1, 1, stream="sideways"), "stream must be one of"),
    (Step.make("latency", "r1->m", 1, 1, colour="red"), "has no parameter colour"),
    (Step.make("slicer", "r1->m", 1, 1, average_size=4, size_variation=9), "must not exceed"),
    (Step.make("limit_data", "r1->m", 1, 1, nbytes=1.5), "whole number"),
])
def test_bad_steps_are_refused_with_a_clear_message(step, message):
    with pytest.raises(ScheduleError, match=message):
        validate(sched(step), NODES, EDGES)


def test_every_problem_is_listed_at_once():
    with pytest.raises(ScheduleError) as info:
        validate(sched(Step.make("earthquake", "m", 1, 1), Step.make("pause", "zz", 1, 1)), NODES, EDGES)
    assert "earthquake" in str(info.value) and "'zz'" in str(info.value)


@pytest.mark.parametrize("a, b, conflict", [
    (Step.make("partition", "r1->m", 1, 2), Step.make("latency", "r1->m", 2, 2), True),
    (Step.make("kill", "r1", 1, 2), Step.make("pause", "r1", 2, 2), True),
    (Step.make("restart", "r1", 2, 0), Step.make("pause", "r1", 1, 2), True),
    (Step.make("latency", "r1->m", 1, 2), Step.make("bandwidth", "r1->m", 1, 2), False),
    (Step.make("latency", "r1->m", 1, 2, stream="upstream"),
     Step.make("latency", "r1->m", 1, 2, stream="downstream"), False),
    (Step.make("latency", "r1->m", 1, 2), Step.make("latency", "r1->m", 2, 2, stream="upstream"), True),
    (Step.make("partition", "r1->m", 1, 2), Step.make("partition", "r1->m", 3, 2), False),  # back to back
    (Step.make("partition", "r1->m", 1, 2), Step.make("partition", "r2->m", 1, 2), False),  # other edge
    (Step.make("kill", "m", 1, 2), Step.make("partition", "r1->m", 1, 2), False),  # node vs edge
])
def test_overlapping_faults_on_one_target(a, b, conflict):
    if conflict:
        with pytest.raises(ScheduleError, match="conflicting faults"):
            validate(sched(a, b), NODES, EDGES)
    else:
        validate(sched(a, b), NODES, EDGES)


def test_validation_fills_defaults():
    out = validate(sched(Step.make("latency", "r1->m", 1, 1, ms=30)), NODES, EDGES)
    assert out.steps[0].param_dict == {"ms": 30.0, "jitter": 0.0, "stream": "both"}
    assert normalise_params(KINDS["partition"], {}) == {}
    with pytest.raises(FaultError):
        normalise_params(KINDS["bandwidth"], {"kbps": True})


def test_same_seed_same_schedule_and_json_round_trip():
    a = generate(42, NODES, EDGES, node_targets=["r1", "r2"])
    b = generate(42, NODES, EDGES, node_targets=["r1", "r2"])
    assert a.to_dict() == b.to_dict()
    assert Schedule.from_dict(a.to_dict()).to_dict() == a.to_dict()
    others = {generate(s, NODES, EDGES).to_json() for s in range(1, 30)}
    assert len(others) > 20  # different seeds give different schedules
    for s in range(1, 60):  # every generated schedule is valid and stays inside the run
        sc = generate(s, NODES, EDGES, node_targets=["r1", "r2"], run_length=5.0)
        validate(sc, NODES, EDGES)
        assert all(st.target not in ("m",) for st in sc.steps)
    with pytest.raises(ScheduleError, match="not a schedule"):
        Schedule.from_dict({"steps": [{"kind": "x"}]})


def test_same_seed_same_workload_ops():
    a = WorkloadPlan(seed=7, clients=3, ops_per_client=50)
    b = WorkloadPlan(seed=7, clients=3, ops_per_client=50)
    assert a.all_ops() == b.all_ops() and a.fingerprint() == b.fingerprint()
    assert WorkloadPlan(seed=8, clients=3, ops_per_client=50).fingerprint() != a.fingerprint()
    kinds = {op.kind for op in a.all_ops()}
    assert kinds == {"incrby", "rpush", "sadd", "hset", "zadd", "set"}
    assert {op.db for op in a.all_ops()} == {0, 1, 2}
    with pytest.raises(WorkloadError, match="unknown write kind"):
        WorkloadPlan(seed=1, kinds=("explode",))
    with pytest.raises(WorkloadError, match="clients >= 1"):
        WorkloadPlan(seed=1, clients=0)


class FakeSettings:
    seed = 1234

    def rerun_command(self, nodeid=None):
        return f"pytest {nodeid} --harness-seed={self.seed}"


def test_chaos_seed_is_derived_from_the_root_seed_and_the_rerun_line_reproduces_it():
    s = FakeSettings()
    assert chaos_seed_for(s) == derive_seed(1234) == derive_seed(1234)
    assert derive_seed(1235) != derive_seed(1234)
    assert rerun_line(s, "suites/chaos/x.py::t", chaos_seed_for(s)) == "pytest suites/chaos/x.py::t --harness-seed=1234"
    s.chaos_seed = 99
    assert chaos_seed_for(s) == 99
    assert rerun_line(s, "t", 99).endswith("--chaos-seed=99")


def test_schedule_run_applies_and_heals_every_step_in_time_order():
    from contextlib import contextmanager

    from harness.schedule import ScheduleRun

    log = []

    @contextmanager
    def fake(step):
        log.append(("on", step.kind))
        try:
            yield
        finally:
            log.append(("off", step.kind))

    schedule = validate(sched(Step.make("latency", "r1->m", 0.0, 0.1), Step.make("partition", "r2->m", 0.05, 0.1),
                              run=0.3), NODES, EDGES)
    run = ScheduleRun(schedule, fake).run()
    assert log == [("on", "latency"), ("on", "partition"), ("off", "latency"), ("off", "partition")]
    assert len(run.applied) == 2 and all(end >= start for _, start, end in run.applied)


def test_schedule_run_heals_open_faults_when_a_step_fails():
    from contextlib import contextmanager

    from harness.schedule import ScheduleRun

    log = []

    @contextmanager
    def fake(step):
        if step.kind == "pause":
            raise RuntimeError("cannot pause")
        log.append("on")
        try:
            yield
        finally:
            log.append("off")

    schedule = validate(sched(Step.make("latency", "r1->m", 0.0, 1.0), Step.make("pause", "r1", 0.05, 0.1),
                              run=2), NODES, EDGES)
    with pytest.raises(ScheduleError, match="cannot pause"):
        ScheduleRun(schedule, fake).run()
    assert log == ["on", "off"]


class _FakeTopology:
    """Just the names: apply() must refuse bad input before touching any node or proxy."""

    nodes = {"m": object(), "r1": object()}
    edges = {"r1->m": object()}


@pytest.mark.parametrize("kind, target, params, message", [
    ("earthquake", "m", {}, "unknown fault"),
    ("partition", "r2->m", {}, "not one of"),
    ("kill", "r9", {}, "not one of"),
    ("kill", "r1", {"ms": 3}, "takes no parameters"),
])
def test_apply_refuses_bad_faults_before_acting(kind, target, params, message):
    from harness.faults import FaultError, apply

    with pytest.raises(FaultError, match=message):
        apply(_FakeTopology(), kind, target, **params)
