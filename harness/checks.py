"""Checkers: what must hold after (and during) a chaos run, with the evidence when it does not.

Every checker is a pure function of recorded material — an op history, states read from
nodes, fault windows, INFO readings — and returns a `CheckResult`. Keeping them pure is
what lets `tests/chaos/` feed them planted anomalies and prove each one is caught; the live
helpers at the bottom only gather material and then call the pure functions.

Honesty rules (after Jepsen): a write whose reply was lost is "unknown" and is never
counted as lost; a write lost while a fault that can lose data was active is reported
as "explained", anything else lost is a failure; a write that *failed* but shows up anyway
is an anomaly too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.nodes.base import HarnessError
from harness.workload import FAIL, OK, UNKNOWN, History, Op, State, StateSample

# Faults that may legitimately lose writes the master acknowledged (the master's memory goes).
DATA_LOSS_FAULTS = frozenset({"kill", "terminate", "restart", "restart_wipe", "failover"})


class CheckFailed(AssertionError):
    """A checker found an anomaly; the message carries the evidence."""


@dataclass
class Anomaly:
    kind: str  # lost | reorder | duplicate | hole | wrong-value | foreign | counter | failed-present | stale
    node: str
    key: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.node} {self.key}: {self.detail}"


@dataclass
class CheckResult:
    name: str
    anomalies: list[Anomaly] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, but not failures (unknowns, explained losses)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def kinds(self) -> set[str]:
        return {a.kind for a in self.anomalies}

    def report(self, limit: int = 25) -> str:
        head = f"{self.name}: {'ok' if self.ok else f'{len(self.anomalies)} anomalies'}"
        lines = [head] + [f"  {a}" for a in self.anomalies[:limit]]
        if len(self.anomalies) > limit:
            lines.append(f"  ... and {len(self.anomalies) - limit} more")
        lines += [f"  note: {n}" for n in self.notes[:limit]]
        return "\n".join(lines)

    def check(self) -> CheckResult:
        """Raise CheckFailed with the evidence unless the check passed."""
        if not self.ok:
            raise CheckFailed(self.report())
        return self


# --- op visibility ----------------------------------------------------------------------

def visible(op: Op, value: Any) -> bool:
    """Whether the single write `op` shows in `value`, the state of its key (None = absent).

    Counters are not decided per op (see `_counter_prefixes`); this returns False for them.
    """
    if value is None:
        return False
    if op.kind in ("rpush", "sadd", "zadd"):
        return op.member in value
    if op.kind == "hset":
        return op.member in value
    if op.kind == "set":
        return value == op.member
    return False


def _counter_prefixes(ops: Sequence[Op], value: int) -> list[int]:
    """Numbers of leading ops (ok or unknown; unknown may be skipped) whose sum can be `value`.

    Failed ops never count. An empty list means no prefix of the history explains the value:
    a duplicate, a hole, or a foreign write.
    """
    candidates = [op for op in ops if op.type != FAIL]
    reachable = {0}
    matches = [0] if value == 0 else []
    for i, op in enumerate(candidates, start=1):
        if op.type == UNKNOWN:
            reachable = reachable | {s + op.amount for s in reachable}
        else:
            reachable = {s + op.amount for s in reachable}
        if len(reachable) > 4096:  # many unknowns: stop enumerating, be permissive
            return list(range(len(candidates) + 1))
        if value in reachable:
            matches.append(i)
    return matches


# --- per-state structural check ---------------------------------------------------------

def check_state(state: State, history: History, node: str = "replica", *,
                complete: bool = False, name: str | None = None) -> CheckResult:
    """Check one node's state against the master's op history.

    complete=False (prefix consistency, for replicas sampled mid-run): each key holds a
    prefix of its history — no reordering, no duplicate, no hole, no value the master never
    acknowledged — and across keys, per client, no acknowledged write is missing while a
    later write of that client is visible (the stream is a total order, and a client's
    write is issued only after its previous one was acknowledged).

    complete=True (the master, or a replica after healing): additionally every acknowledged
    write must be visible.
    """
    result = CheckResult(name or ("complete state" if complete else "prefix consistency"))
    per_key = history.per_key()
    visible_seqs: dict[int, set[int]] = {}
    for (db, key), ops in per_key.items():
        value = state.get((db, key))
        label = f"db{db}:{key}"
        kind = ops[0].kind
        if kind == "incrby":
            _check_counter(result, node, label, ops, value, complete)
            continue
        if kind == "rpush":
            _check_list(result, node, label, ops, value)
        elif kind in ("sadd", "zadd", "hset"):
            _check_members(result, node, label, ops, value)
        for op in ops:
            if visible(op, value):
                visible_seqs.setdefault(op.client, set()).add(op.seq)
                if op.type == FAIL:
                    result.anomalies.append(Anomaly(
                        "failed-present", node, label,
                        f"write #{op.client}.{op.seq} failed ({op.error}) but is present"))
    # Cross-key holes: per client, every ok write issued before a visible write must be visible.
    all_ops = sorted(history.ops, key=lambda o: (o.client, o.seq))
    by_client: dict[int, list[Op]] = {}
    for op in all_ops:
        if op.kind != "incrby":
            by_client.setdefault(op.client, []).append(op)
    for client, ops in by_client.items():
        seen = visible_seqs.get(client, set())
        last = max(seen) if seen else -1
        for op in ops:
            if op.type != OK or op.seq in seen:
                continue
            if complete:
                result.anomalies.append(Anomaly(
                    "lost", node, f"db{op.db}:{op.key}",
                    f"acknowledged write #{op.client}.{op.seq} {op.kind} {op.member!r} is missing"))
            elif op.seq < last:
                result.anomalies.append(Anomaly(
                    "hole", node, f"db{op.db}:{op.key}",
                    f"acknowledged write #{op.client}.{op.seq} is missing but the client's later "
                    f"write #{client}.{last} is visible"))
    result.data["visible"] = sum(len(s) for s in visible_seqs.values())
    return result


def _check_list(result: CheckResult, node: str, label: str, ops: Sequence[Op], value: Any) -> None:
    items = list(value or [])
    order = {op.member: i for i, op in enumerate(ops)}
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    for item, n in counts.items():
        if n > 1:
            result.anomalies.append(Anomaly("duplicate", node, label, f"element {item!r} appears {n} times"))
    foreign = [item for item in items if item not in order]
    for item in foreign:
        result.anomalies.append(Anomaly("foreign", node, label, f"element {item!r} was never written"))
    known = [order[item] for item in items if item in order]
    for a, b in zip(known, known[1:], strict=False):
        if b < a:
            result.anomalies.append(Anomaly(
                "reorder", node, label,
                f"{ops[b].member!r} (write {b}) comes after {ops[a].member!r} (write {a})"))
            break


def _check_members(result: CheckResult, node: str, label: str, ops: Sequence[Op], value: Any) -> None:
    if not value:
        return
    expected = {op.member: op for op in ops}
    for member in value:
        op = expected.get(member)
        if op is None:
            result.anomalies.append(Anomaly("foreign", node, label, f"member {member!r} was never written"))
            continue
        if op.kind == "hset" and value[member] != f"v{op.seq}":
            result.anomalies.append(Anomaly(
                "wrong-value", node, label, f"field {member!r} = {value[member]!r}, wrote 'v{op.seq}'"))
        if op.kind == "zadd" and float(value[member]) != float(op.amount):
            result.anomalies.append(Anomaly(
                "wrong-value", node, label, f"member {member!r} score {value[member]}, wrote {op.amount}"))


def _check_counter(result: CheckResult, node: str, label: str, ops: Sequence[Op], value: Any,
                   complete: bool) -> None:
    val = 0 if value is None else int(value)
    prefixes = _counter_prefixes(ops, val)
    if not prefixes:
        sums = []
        total = 0
        for op in ops:
            if op.type != FAIL:
                total += op.amount
                sums.append(total)
        result.anomalies.append(Anomaly(
            "counter", node, label,
            f"value {val} is no prefix sum of the increments (running sums {sums[:12]}"
            f"{'...' if len(sums) > 12 else ''}): a duplicate, hole or foreign increment"))
        return
    if complete:
        live = [op for op in ops if op.type != FAIL]
        last_ok = max((i for i, op in enumerate(live, start=1) if op.type == OK), default=0)
        if max(prefixes) < last_ok:
            missing = sum(op.amount for op in live[max(prefixes):last_ok] if op.type == OK)
            result.anomalies.append(Anomaly(
                "lost", node, label,
                f"value {val} is missing at least {missing} of acknowledged increments"))


# --- prefix consistency over samples ----------------------------------------------------

def check_prefix(samples: Iterable[StateSample], history: History) -> CheckResult:
    """Prefix consistency for every sample taken during the run (replicas may lag, never lie)."""
    result = CheckResult("prefix consistency")
    n = 0
    for sample in samples:
        n += 1
        sub = check_state(sample.state, history, sample.node, complete=False)
        for anomaly in sub.anomalies:
            anomaly.detail += f" (sample at t={sample.t:.3f})"
        result.anomalies.extend(sub.anomalies)
    result.data["samples"] = n
    if n == 0:
        result.notes.append("no samples were taken")
    return result


# --- acknowledged writes ------------------------------------------------------------------

def check_acknowledged(state: State, history: History, node: str = "master",
                       faults: Sequence[Any] = (), data_loss_target: str | None = None) -> CheckResult:
    """Every acknowledged write is present, or lost with a fault that explains it.

    A missing ok write is "explained" when a data-losing fault (`DATA_LOSS_FAULTS`) on
    `data_loss_target` (default: `node`) started after the write was acknowledged. Writes
    confirmed by `WAIT` (wait_acks >= 1) are listed apart: their loss is worth a closer look
    even when explained. Unknown writes are counted present / absent, never failures.
    """
    target = data_loss_target or node
    result = CheckResult(f"acknowledged writes on {node}")
    full = check_state(state, history, node, complete=True, name="complete")
    explaining = [f for f in faults if _fault_name(f) in DATA_LOSS_FAULTS and _fault_target(f) == target]
    lost_explained: list[str] = []
    for anomaly in full.anomalies:
        if anomaly.kind != "lost":
            result.anomalies.append(anomaly)
            continue
        op = _op_for(history, anomaly)
        why = None
        if op is not None:
            why = next((f for f in explaining if _fault_start(f) >= op.end), None)
        elif explaining:
            why = explaining[0]  # counters: the deficit cannot be pinned to one op
        if why is not None:
            waited = f" (WAIT said {op.wait_acks} replicas had it)" if op is not None and op.wait_acks else ""
            lost_explained.append(f"{anomaly.key}: {anomaly.detail}{waited} — explained by "
                                  f"{_fault_name(why)} on {_fault_target(why)}")
        else:
            if op is not None and op.wait_acks:
                anomaly.detail += f" (WAIT said {op.wait_acks} replicas had it)"
            result.anomalies.append(anomaly)
    unknown = [op for op in history.ops if op.type == UNKNOWN and op.kind != "incrby"]
    present = sum(1 for op in unknown if visible(op, state.get((op.db, op.key))))
    result.data.update(
        acknowledged=sum(1 for op in history.ops if op.type == OK),
        waited=sum(1 for op in history.ops if op.wait_acks),
        lost_explained=len(lost_explained),
        unknown_present=present,
        unknown_absent=len(unknown) - present,
    )
    result.notes += lost_explained
    if unknown:
        result.notes.append(f"{len(unknown)} writes with lost replies: {present} present, "
                            f"{len(unknown) - present} absent (neither counts as a loss)")
    return result


def _op_for(history: History, anomaly: Anomaly) -> Op | None:
    if "#" not in anomaly.detail:
        return None
    ref = anomaly.detail.split("#", 1)[1].split()[0]
    client, seq = (int(x) for x in ref.split("."))
    return next((op for op in history.ops if op.client == client and op.seq == seq), None)


def _fault_name(f: Any) -> str:
    return f["name"] if isinstance(f, Mapping) else f.name


def _fault_target(f: Any) -> str:
    return f["target"] if isinstance(f, Mapping) else f.target


def _fault_start(f: Any) -> float:
    return float(f["start"] if isinstance(f, Mapping) else f.start)


# --- convergence ------------------------------------------------------------------------

def diff_states(a: Mapping[Any, Any], b: Mapping[Any, Any], a_name: str = "master",
                b_name: str = "replica", limit: int = 50) -> list[str]:
    """Key-level differences between two datasets, in words a human can act on."""
    out: list[str] = []
    for key in sorted(set(a) | set(b), key=str):
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        label = f"db{key[0]}:{key[1]}" if isinstance(key, tuple) and len(key) == 2 else str(key)
        if vb is None:
            out.append(f"{label}: only on {a_name}")
        elif va is None:
            out.append(f"{label}: only on {b_name}")
        elif isinstance(va, list) and isinstance(vb, list):
            i = next((i for i, (x, y) in enumerate(zip(va, vb, strict=False)) if x != y), min(len(va), len(vb)))
            out.append(f"{label}: lists differ at index {i} ({a_name} len {len(va)}, {b_name} len {len(vb)})")
        elif isinstance(va, (set, dict)) and isinstance(vb, (set, dict)):
            missing = sorted(set(va) - set(vb), key=str)[:5]
            extra = sorted(set(vb) - set(va), key=str)[:5]
            changed = ([k for k in set(va) & set(vb) if va[k] != vb[k]][:5]
                       if isinstance(va, dict) and isinstance(vb, dict) else [])
            out.append(f"{label}: missing on {b_name} {missing}, extra {extra}, changed {sorted(changed, key=str)}")
        else:
            out.append(f"{label}: {a_name} {_short(va)} != {b_name} {_short(vb)}")
        if len(out) >= limit:
            out.append("... (more differences not shown)")
            break
    return out


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) < 80 else text[:77] + "..."


def check_convergence(master: Mapping[Any, Any], replicas: Mapping[str, Mapping[Any, Any]],
                      master_name: str = "master") -> CheckResult:
    """After healing, every replica's dataset equals its master's (key-level diff otherwise)."""
    result = CheckResult("convergence")
    for name, state in replicas.items():
        for line in diff_states(master, state, master_name, name):
            result.anomalies.append(Anomaly("stale", name, line.split(":", 2)[0] if ":" in line else "", line))
    result.data["replicas"] = sorted(replicas)
    return result


# --- sync ledger ------------------------------------------------------------------------

@dataclass
class PsyncRequest:
    """What a reconnecting replica asks for: its cached replid and offset + 1 (or ? -1)."""

    replid: str | None  # None: no cached master (PSYNC ? -1)
    offset: int  # the replica's applied offset before it lost the link (it asks for offset + 1)


def expected_resync(request: PsyncRequest, master: Mapping[str, Any]) -> tuple[str, str]:
    """Redis's acceptance rule (§2.1), given the master's INFO replication at reconnect time.

    Returns ("partial" | "full", reason).
    """
    if request.replid is None:
        return "full", "no cached master (PSYNC ? -1)"
    want = request.offset + 1
    replid = master.get("master_replid")
    replid2 = master.get("master_replid2")
    second = int(master.get("second_repl_offset", -1))
    if request.replid == replid:
        id_ok = True
    elif request.replid == replid2 and want <= second:
        id_ok = True
    else:
        return "full", (f"replid {request.replid[:8]}… matches neither {str(replid)[:8]}… nor "
                        f"{str(replid2)[:8]}… up to {second}")
    assert id_ok
    if not int(master.get("repl_backlog_active", 0)):
        return "full", "the master has no backlog"
    first = int(master.get("repl_backlog_first_byte_offset", 0))
    histlen = int(master.get("repl_backlog_histlen", 0))
    if want < first or want > first + histlen:
        return "full", f"offset {want} outside the backlog [{first}, {first + histlen}]"
    return "partial", f"offset {want} inside the backlog [{first}, {first + histlen}]"


def classify_counters(before: Mapping[str, int], after: Mapping[str, int]) -> str:
    """What the master's sync counters say happened between two readings."""
    full = int(after.get("sync_full", 0)) - int(before.get("sync_full", 0))
    partial = int(after.get("sync_partial_ok", 0)) - int(before.get("sync_partial_ok", 0))
    if full > 0:
        return "full"
    if partial > 0:
        return "partial"
    return "none"


@dataclass
class LedgerRow:
    replica: str
    master: str
    observed: str  # full | partial | none
    expected: str  # full | partial | none
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return dict(replica=self.replica, master=self.master, observed=self.observed,
                    expected=self.expected, reason=self.reason)


def check_ledger(rows: Iterable[LedgerRow]) -> CheckResult:
    """Each reconnect's observed sync kind must be the kind Redis's rules predict."""
    result = CheckResult("sync ledger")
    rows = list(rows)
    for row in rows:
        if row.observed != row.expected:
            result.anomalies.append(Anomaly(
                "sync", row.replica, row.master,
                f"expected a {row.expected} resync ({row.reason}), the master's counters show {row.observed}"))
        else:
            result.notes.append(f"{row.replica}->{row.master}: {row.observed} ({row.reason})")
    result.data["rows"] = [r.to_dict() for r in rows]
    return result


# --- liveness ---------------------------------------------------------------------------

def check_liveness(link_status: Callable[[str], str], replicas: Sequence[str], bound: float,
                   interval: float = 0.05, clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """Every replica's `master_link_status` is `up` within `bound` seconds from now (the heal).

    `link_status(name)` reads the replica's current status (exceptions count as "down").
    """
    if bound <= 0:
        raise HarnessError(f"liveness bound must be positive, got {bound}")
    result = CheckResult("liveness")
    start = clock()
    pending = set(replicas)
    last: dict[str, str] = {}
    while pending:
        for name in sorted(pending):
            try:
                last[name] = str(link_status(name))
            except Exception as exc:  # a node still down reads as "down", with the reason
                last[name] = f"unreadable ({exc})"
            if last[name] == "up":
                result.data[name] = round(clock() - start, 3)
                pending.discard(name)
        if pending and clock() - start > bound:
            for name in sorted(pending):
                result.anomalies.append(Anomaly(
                    "liveness", name, "master_link_status",
                    f"link not up {bound:.1f}s after the last fault healed (last seen: {last.get(name)})"))
            break
        if pending:
            time.sleep(interval)
    return result


# --- live: gather material from a healed topology and run the checkers ------------------

def convergence_live(topology: Any, master: str, replicas: Sequence[str]) -> CheckResult:
    """Capture every node's whole dataset (all dbs, all types) and diff each replica against `master`."""
    from harness.capture import capture, diff

    result = CheckResult("convergence")
    expected = capture(topology.node(master))
    result.data["keys"] = len(expected)
    for name in replicas:
        for line in diff(expected, capture(topology.node(name))):
            result.anomalies.append(Anomaly("stale", name, "", line))
    return result


def verify_run(topology: Any, history: History, *, master: str = "m",
               replicas: Sequence[str] | None = None, samples: Iterable[StateSample] = (),
               liveness_bound: float = 15.0, sync_timeout: float = 30.0,
               faults: Sequence[Any] | None = None) -> list[CheckResult]:
    """After the last fault healed: liveness, convergence, acknowledged writes, prefix consistency.

    Returns every result (passing ones too, for the report); `require(results)` raises.
    """
    from harness.recorder import current

    replicas = list(replicas if replicas is not None else topology.replicas())
    if faults is None:
        faults = [ev for ev in current().events if ev.kind == "fault"]

    def link(name: str) -> str:
        return str(topology.node(name).info("replication").get("master_link_status"))

    results = [check_liveness(link, replicas, liveness_bound)]
    if results[0].ok:
        topology.wait_in_sync(replicas, timeout=sync_timeout)
        results.append(convergence_live(topology, master, replicas))
    from harness.workload import read_state

    keys = history.keys()
    with topology.node(master).client() as conn:
        master_state = read_state(conn, keys)
    results.append(check_acknowledged(master_state, history, master, faults=faults))
    results.append(check_prefix(samples, history))
    rec = current()
    rec.meta["workload_ops"] = history.counts()
    rec.meta.setdefault("checks", []).extend(
        {"check": r.name, "ok": r.ok, "anomalies": len(r.anomalies), "notes": r.notes[:10],
         "data": {k: v for k, v in r.data.items() if isinstance(v, (int, float, str))}}
        for r in results)
    return results


def require(results: Sequence[CheckResult], context: str = "") -> None:
    """Raise one CheckFailed carrying every failing checker's evidence (and `context`)."""
    failed = [r for r in results if not r.ok]
    if failed:
        text = "\n".join(r.report() for r in failed)
        raise CheckFailed(f"{text}\n{context}".rstrip())
