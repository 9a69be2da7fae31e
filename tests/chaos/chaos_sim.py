"""A deterministic in-memory double of one master and its replicas, for testing checkers and shrinking.

Why a double: to prove that a planted replication bug is caught and that the shrinker finds
the one fault that triggers it, the scenario must be rerun dozens of times and give the same
verdict each time. Real servers cannot do that in a unit-test budget; this double can, and it
speaks the same material the checkers read (an op `History` and per-node `State`).

Time is simulated: the workload's ops are spread evenly over the run, and a fault step that
breaks an edge (partition, blackhole, reset, limit_data) or kills/pauses a replica stops the
replica from receiving ops during its window. On heal the replica resyncs: partially from the
master's backlog when the missed ops fit in it, else by a full copy. Faults that only slow
data (latency, bandwidth, slicer) do not change what arrives.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from harness.schedule import Schedule
from harness.workload import OK, History, Op, OpSpec, State, WorkloadPlan

BREAKS_LINK = {"partition", "blackhole", "reset", "limit_data", "kill", "terminate", "pause"}


def apply_op(state: State, spec: OpSpec | Op) -> Any:
    key = (spec.db, spec.key)
    value = state.get(key)
    if spec.kind == "incrby":
        state[key] = (value or 0) + spec.amount
        return state[key]
    if spec.kind == "rpush":
        state[key] = (value or []) + [spec.member]
        return len(state[key])
    if spec.kind == "sadd":
        state[key] = (value or set()) | {spec.member}
        return 1
    if spec.kind == "hset":
        state[key] = {**(value or {}), spec.member: f"v{spec.seq}"}
        return 1
    if spec.kind == "zadd":
        state[key] = {**(value or {}), spec.member: float(spec.amount)}
        return 1
    if spec.kind == "set":
        state[key] = spec.member
        return "OK"
    raise ValueError(spec.kind)


@dataclass
class SimResult:
    history: History
    master: State
    replicas: dict[str, State]
    resyncs: list[tuple[str, str]] = field(default_factory=list)  # (replica, "partial" | "full")


def run_sim(plan: WorkloadPlan, schedule: Schedule, replicas: tuple[str, ...] = ("r1", "r2"),
            backlog_ops: int = 1000, bug: str | None = None, bug_every: int = 7) -> SimResult:
    """Play the plan against a master 'm' with `replicas`, under `schedule`.

    bug: a fault kind; when set, a replica resyncing *partially* after a window of that kind
    drops every `bug_every`-th replayed write (the planted replication bug).
    """
    specs: list[OpSpec] = []
    rounds = max((len(p) for p in plan.per_client), default=0)
    for i in range(rounds):
        for ops in plan.per_client:
            if i < len(ops):
                specs.append(ops[i])
    n = max(1, len(specs))
    times = [schedule.run_length * (k + 0.5) / n for k in range(len(specs))]
    master: State = {}
    stream: list[OpSpec] = []
    history = History()
    states = {r: {} for r in replicas}
    applied = {r: 0 for r in replicas}  # index into stream
    resyncs: list[tuple[str, str]] = []

    def down(replica: str, t: float) -> list[str]:
        kinds = []
        for step in schedule.steps:
            if step.kind not in BREAKS_LINK:
                continue
            hits = step.target in (replica, f"{replica}->m") or (step.target == "m" and step.kind != "pause")
            if hits and step.at <= t < step.end:
                kinds.append(step.kind)
        return kinds

    was_down: dict[str, list[str]] = {r: [] for r in replicas}

    def catch_up(replica: str, t: float) -> None:
        kinds = down(replica, t)
        if kinds:
            was_down[replica] = sorted(set(was_down[replica]) | set(kinds))
            return
        missed = stream[applied[replica]:]
        if was_down[replica]:
            if len(missed) <= backlog_ops:
                resyncs.append((replica, "partial"))
                for j, spec in enumerate(missed, start=1):
                    if bug in was_down[replica] and j % bug_every == 0:
                        continue  # the planted bug
                    apply_op(states[replica], spec)
            else:
                resyncs.append((replica, "full"))
                states[replica] = copy.deepcopy(master)
            was_down[replica] = []
        else:
            for spec in missed:
                apply_op(states[replica], spec)
        applied[replica] = len(stream)

    for spec, t in zip(specs, times, strict=True):
        result = apply_op(master, spec)
        stream.append(spec)
        history.add(Op(spec.client, spec.seq, spec.kind, spec.db, spec.key, spec.member, spec.amount,
                       start=t, end=t, type=OK, result=result))
        for r in replicas:
            catch_up(r, t)
    for r in replicas:
        catch_up(r, schedule.run_length + 1)
    return SimResult(history, master, states, resyncs)
