"""Each checker catches each anomaly it claims to, and passes clean material.

Histories and states come from the in-memory double (tests/chaos/chaos_sim.py) so they are real
outputs of a workload plan; the anomalies are then planted by editing one value.
"""

from __future__ import annotations

import copy

import pytest
from chaos_sim import run_sim

from harness.checks import (
    CheckFailed,
    LedgerRow,
    PsyncRequest,
    StateSample,
    check_acknowledged,
    check_convergence,
    check_ledger,
    check_liveness,
    check_prefix,
    check_state,
    classify_counters,
    expected_resync,
)
from harness.nodes.base import HarnessError
from harness.recorder import Event
from harness.schedule import Schedule
from harness.workload import FAIL, UNKNOWN, History, Op, WorkloadPlan


@pytest.fixture(scope="module")
def clean():
    plan = WorkloadPlan(seed=11, clients=3, ops_per_client=60)
    return run_sim(plan, Schedule([], 5.0))


def key_of(state, kind):
    return next(k for k in sorted(state) if k[1].startswith(f"wl:{kind}:"))


def first_op(history, kind):
    return next(op for op in history.ops if op.kind == kind)


# --- clean material passes -----------------------------------------------------------------

def test_clean_material_passes_every_checker(clean):
    h, m = clean.history, clean.master
    assert check_state(m, h, "m", complete=True).ok
    assert check_acknowledged(m, h, "m").ok
    assert check_convergence(m, clean.replicas).ok
    samples = [StateSample(1.0, "r1", clean.replicas["r1"])]
    assert check_prefix(samples, h).ok


def test_a_lagging_replica_is_a_valid_prefix(clean):
    """A replica that has applied only the first k ops of the stream is not an anomaly."""
    h = clean.history
    lagging: dict = {}
    from chaos_sim import apply_op

    for op in h.ops[: len(h.ops) // 3]:
        apply_op(lagging, op)
    result = check_prefix([StateSample(0.5, "r1", lagging)], h)
    assert result.ok, result.report()
    # ...but after healing it is stale:
    conv = check_convergence(clean.master, {"r1": lagging})
    assert conv.kinds() == {"stale"}
    assert any("only on master" in a.detail or "differ" in a.detail or "!=" in a.detail
               for a in conv.anomalies)


# --- planted anomalies -----------------------------------------------------------------------

def test_lost_acknowledged_write_is_caught(clean):
    m = copy.deepcopy(clean.master)
    key = key_of(m, "rpush")
    lost = m[key].pop()  # the last acknowledged append vanished
    result = check_acknowledged(m, clean.history, "m")
    assert result.kinds() == {"lost"}
    assert lost in result.report()
    with pytest.raises(CheckFailed, match="lost"):
        result.check()


def test_lost_write_with_a_data_losing_fault_is_explained_not_failed(clean):
    m = copy.deepcopy(clean.master)
    key = key_of(m, "sadd")
    m[key].pop()
    late = max(op.end for op in clean.history.ops) + 1
    kill = Event("fault", "kill", "m", late, late + 1)
    result = check_acknowledged(m, clean.history, "m", faults=[kill])
    assert result.ok, result.report()
    assert result.data["lost_explained"] == 1
    assert any("explained by kill on m" in n for n in result.notes)
    # A kill *before* the write was acknowledged explains nothing.
    early = Event("fault", "kill", "m", 0.0, 0.1)
    assert not check_acknowledged(m, clean.history, "m", faults=[early]).ok
    # Nor does a fault on an edge.
    edge = {"name": "partition", "target": "r1->m", "start": late}
    assert not check_acknowledged(m, clean.history, "m", faults=[edge]).ok


def test_lost_counter_increment_is_caught(clean):
    m = copy.deepcopy(clean.master)
    key = key_of(m, "incrby")
    ops = [op for op in clean.history.ops if (op.db, op.key) == key]
    m[key] -= ops[-1].amount  # last increment lost: still a prefix sum, but incomplete
    assert check_state(m, clean.history, "r1", complete=False).ok
    assert check_acknowledged(m, clean.history, "m").kinds() == {"lost"}


def test_reorder_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    key = key_of(r, "rpush")
    r[key][0], r[key][1] = r[key][1], r[key][0]
    result = check_prefix([StateSample(2.0, "r1", r)], clean.history)
    assert "reorder" in result.kinds()


def test_duplicate_list_element_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    key = key_of(r, "rpush")
    r[key].append(r[key][-1])
    assert "duplicate" in check_prefix([StateSample(2.0, "r1", r)], clean.history).kinds()


def test_duplicate_counter_increment_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    key = key_of(r, "incrby")
    ops = [op for op in clean.history.ops if (op.db, op.key) == key]
    # Apply the first increment twice: only a prefix sum by coincidence, so pick a value
    # that is provably not one.
    sums, total = set(), 0
    for op in ops:
        total += op.amount
        sums.add(total)
    bad = next(v for v in range(1, total + 50) if v not in sums)
    r[key] = bad
    assert "counter" in check_prefix([StateSample(2.0, "r1", r)], clean.history).kinds()


def test_hole_is_caught(clean):
    """An acknowledged write missing while the same client's later write is visible."""
    r = copy.deepcopy(clean.replicas["r1"])
    key = key_of(r, "rpush")
    del r[key][0]  # the oldest element of the list: later writes of its client are visible
    result = check_prefix([StateSample(2.0, "r1", r)], clean.history)
    assert result.kinds() == {"hole"}, result.report()


def test_hole_across_keys_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    op = next(op for op in clean.history.ops if op.kind == "set")
    del r[(op.db, op.key)]
    result = check_prefix([StateSample(2.0, "r1", r)], clean.history)
    assert result.kinds() == {"hole"}
    assert f"#{op.client}.{op.seq}" in result.report()


def test_wrong_value_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    hkey = key_of(r, "hset")
    field = next(iter(r[hkey]))
    r[hkey][field] = "garbage"
    zkey = key_of(r, "zadd")
    member = next(iter(r[zkey]))
    r[zkey][member] += 0.5
    result = check_prefix([StateSample(2.0, "r1", r)], clean.history)
    assert result.kinds() == {"wrong-value"}
    assert len(result.anomalies) == 2


def test_foreign_element_is_caught(clean):
    r = copy.deepcopy(clean.replicas["r1"])
    key = key_of(r, "sadd")
    r[key].add("never-written")
    assert "foreign" in check_prefix([StateSample(2.0, "r1", r)], clean.history).kinds()


def test_stale_replica_after_heal_is_caught_with_a_key_level_diff(clean):
    r = copy.deepcopy(clean.replicas["r2"])
    key = key_of(r, "set")
    del r[key]
    ckey = key_of(r, "incrby")
    r[ckey] -= 1
    result = check_convergence(clean.master, {"r1": clean.replicas["r1"], "r2": r}, "m")
    assert {a.node for a in result.anomalies} == {"r2"}
    text = result.report()
    assert f"db{key[0]}:{key[1]}: only on m" in text
    assert f"db{ckey[0]}:{ckey[1]}: m" in text


def test_failed_write_that_is_present_is_an_anomaly(clean):
    ops = clean.history.ops
    target = next(op for op in ops if op.kind == "sadd")
    edited = [Op(**{**op.to_dict(), "type": FAIL, "error": "READONLY"}) if op is target else op for op in ops]
    result = check_state(clean.master, History(edited), "m", complete=True)
    assert result.kinds() == {"failed-present"}


def test_unknown_writes_are_reported_apart_never_as_losses(clean):
    ops = clean.history.ops
    rpushes = [op for op in ops if op.kind == "rpush"]
    last = rpushes[-1]
    edited = History(Op(**{**op.to_dict(), "type": UNKNOWN}) if op is last else op for op in ops)
    m = copy.deepcopy(clean.master)
    m[(last.db, last.key)].remove(last.member)  # the unknown write did not happen
    result = check_acknowledged(m, edited, "m")
    assert result.ok, result.report()
    assert result.data["unknown_absent"] == 1 and result.data["unknown_present"] == 0
    assert any("lost replies" in n for n in result.notes)


def test_wait_acknowledged_loss_is_flagged(clean):
    ops = clean.history.ops
    target = [op for op in ops if op.kind == "rpush"][-1]
    edited = History(Op(**{**op.to_dict(), "wait_n": 1, "wait_acks": 1}) if op is target else op for op in ops)
    m = copy.deepcopy(clean.master)
    m[(target.db, target.key)].remove(target.member)
    result = check_acknowledged(m, edited, "m")
    assert "WAIT said 1 replicas had it" in result.report()


# --- sync ledger -------------------------------------------------------------------------------

MASTER = {"master_replid": "a" * 40, "master_replid2": "b" * 40, "second_repl_offset": 500,
          "repl_backlog_active": 1, "repl_backlog_first_byte_offset": 301, "repl_backlog_histlen": 1000,
          "master_repl_offset": 1300}


@pytest.mark.parametrize("request_, expected", [
    (PsyncRequest("a" * 40, 1000), "partial"),      # inside the backlog
    (PsyncRequest("a" * 40, 1300), "partial"),      # offset + 1 == master offset + 1: accepted, 0 bytes
    (PsyncRequest("a" * 40, 1301), "full"),         # ahead of the master
    (PsyncRequest("a" * 40, 100), "full"),          # fell out of the backlog
    (PsyncRequest("b" * 40, 400), "partial"),       # replid2, offset <= second_repl_offset
    (PsyncRequest("b" * 40, 600), "full"),          # replid2, but past second_repl_offset
    (PsyncRequest("c" * 40, 1000), "full"),         # unknown history
    (PsyncRequest(None, -1), "full"),               # PSYNC ? -1
])
def test_expected_resync_follows_redis_rules(request_, expected):
    kind, reason = expected_resync(request_, MASTER)
    assert kind == expected, reason


def test_no_backlog_means_full():
    assert expected_resync(PsyncRequest("a" * 40, 10), {**MASTER, "repl_backlog_active": 0})[0] == "full"


def test_ledger_catches_an_unexpected_full_sync():
    before = {"sync_full": 1, "sync_partial_ok": 0}
    assert classify_counters(before, {"sync_full": 1, "sync_partial_ok": 1}) == "partial"
    assert classify_counters(before, {"sync_full": 2, "sync_partial_ok": 0}) == "full"
    assert classify_counters(before, before) == "none"
    good = check_ledger([LedgerRow("r1", "m", "partial", "partial", "in backlog")])
    assert good.ok
    bad = check_ledger([LedgerRow("r1", "m", "full", "partial", "offset 1000 inside the backlog")])
    assert bad.kinds() == {"sync"}
    assert "expected a partial resync" in bad.report()


# --- liveness -----------------------------------------------------------------------------------

def test_liveness_passes_when_links_come_up_and_fails_with_the_last_state():
    calls = {"r1": 0}

    def status(name: str) -> str:
        if name == "r2":
            raise ConnectionError("refused")
        calls["r1"] += 1
        return "up" if calls["r1"] > 3 else "down"

    assert check_liveness(status, ["r1"], bound=2.0, interval=0.01).ok
    calls["r1"] = 0
    result = check_liveness(status, ["r1", "r2"], bound=0.2, interval=0.01)
    assert result.kinds() == {"liveness"}
    assert "refused" in result.report()
    with pytest.raises(HarnessError):
        check_liveness(status, ["r1"], bound=-1)


def test_history_round_trips_through_json(clean, tmp_path):
    path = clean.history.save(tmp_path / "h.json")
    again = History.from_json(path.read_text())
    assert [op.to_dict() for op in again.ops] == [op.to_dict() for op in clean.history.ops]
    assert again.counts() == {"ok": len(again), "fail": 0, "unknown": 0}
    from harness.workload import WorkloadError

    with pytest.raises(WorkloadError, match="not a workload history"):
        History.from_json('[{"client": 1}]')
