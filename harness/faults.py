"""The fault vocabulary: what can go wrong on an edge or a node, and how to make it happen.

Faults are aimed at names from the topology — an edge ``"r1->m"`` (the link the replica r1
uses to reach m, through its Toxiproxy proxy) or a node ``"m"`` — never at proxy names or
ports. Every fault is a context manager (the fault is active inside the block) and can also
be a timed step of a `harness.schedule.Schedule`; either way it is recorded as a window with
its start, end and target in the test's recorder.

The catalogue (`KINDS`) is pure data so schedules can be validated before any node starts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness import recorder as _recorder
from harness.nodes.base import HarnessError

STREAMS = ("downstream", "upstream", "both")


class FaultError(HarnessError):
    """A fault that cannot be applied as asked: unknown kind, bad target, bad parameter."""


@dataclass(frozen=True)
class Param:
    default: Any
    kind: type = float
    minimum: float | None = 0  # None: no lower bound
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: where it applies, its parameters, what it may coexist with."""

    name: str
    target: str  # "edge" | "node"
    params: Mapping[str, Param] = field(default_factory=dict)
    # Faults on the same target overlapping in time conflict unless both are "stackable"
    # (they only slow or split data) and differ in kind or stream.
    stackable: bool = False
    loses_data: bool = False  # may lose writes the master acknowledged
    help: str = ""


def _stream(default: str) -> Param:
    return Param(default, str, None, STREAMS)


KINDS: dict[str, FaultKind] = {k.name: k for k in [
    FaultKind("partition", "edge", {}, help="proxy disabled: connections closed, new ones refused"),
    FaultKind("latency", "edge", {"ms": Param(100.0), "jitter": Param(0.0), "stream": _stream("both")},
              stackable=True, help="delay every chunk by ms ± jitter"),
    FaultKind("bandwidth", "edge", {"kbps": Param(64.0), "stream": _stream("downstream")},
              stackable=True, help="throttle to kbps KB/s (0 holds all data)"),
    FaultKind("blackhole", "edge", {"timeout_ms": Param(0.0), "stream": _stream("both")},
              help="drop all data; close the connection after timeout_ms idle (0: never close)"),
    FaultKind("reset", "edge", {"timeout_ms": Param(0.0), "stream": _stream("downstream")},
              help="reset_peer: drop the first chunk and close with RST after timeout_ms"),
    FaultKind("limit_data", "edge", {"nbytes": Param(1000, int), "stream": _stream("downstream")},
              help="let nbytes through per connection, then close it (cut mid-snapshot)"),
    FaultKind("slicer", "edge", {"average_size": Param(64, int, 1), "size_variation": Param(16, int),
                                 "delay_us": Param(100, int), "stream": _stream("downstream")},
              stackable=True, help="split data into small pieces with a delay after each"),
    FaultKind("kill", "node", {}, loses_data=True,
              help="SIGKILL at the start, restart keeping its data files at the end"),
    FaultKind("terminate", "node", {}, loses_data=True,
              help="SIGTERM at the start, restart keeping its data files at the end"),
    FaultKind("pause", "node", {}, help="SIGSTOP at the start, SIGCONT at the end"),
    FaultKind("restart", "node", {}, loses_data=True, help="restart keeping data (instantaneous step)"),
    FaultKind("restart_wipe", "node", {}, loses_data=True,
              help="restart with its data files removed (a master without persistence)"),
]}


def kind_of(name: str) -> FaultKind:
    try:
        return KINDS[name]
    except KeyError:
        raise FaultError(f"unknown fault {name!r}: choose from {', '.join(KINDS)}") from None


def normalise_params(kind: FaultKind, params: Mapping[str, Any]) -> dict[str, Any]:
    """Fill defaults and check types and ranges; raise FaultError naming the bad parameter."""
    unknown = sorted(set(params) - set(kind.params))
    if unknown:
        allowed = ", ".join(kind.params) or "none"
        raise FaultError(f"fault {kind.name!r} has no parameter {', '.join(unknown)} (allowed: {allowed})")
    out: dict[str, Any] = {}
    for name, spec in kind.params.items():
        value = params.get(name, spec.default)
        if spec.choices:
            if value not in spec.choices:
                raise FaultError(f"fault {kind.name!r}: {name} must be one of {', '.join(spec.choices)}, got {value!r}")
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FaultError(f"fault {kind.name!r}: {name} must be a number, got {value!r}")
            if spec.kind is int and value != int(value):
                raise FaultError(f"fault {kind.name!r}: {name} must be a whole number, got {value!r}")
            value = spec.kind(value)
            if spec.minimum is not None and value < spec.minimum:
                raise FaultError(f"fault {kind.name!r}: {name} must be >= {spec.minimum}, got {value!r}")
        out[name] = value
    if kind.name == "slicer" and out["size_variation"] > out["average_size"]:
        raise FaultError(f"fault 'slicer': size_variation ({out['size_variation']}) must not exceed "
                         f"average_size ({out['average_size']})")
    return out


# --- applying faults to a live topology ---------------------------------------------------

@contextlib.contextmanager
def edge_fault(edge: Any, kind: str, **params: Any) -> Iterator[None]:
    """Apply an edge fault through the core's `Edge` (which records the window itself)."""
    spec = kind_of(kind)
    if spec.target != "edge":
        raise FaultError(f"fault {kind!r} applies to a node, not to the edge {edge.name!r}")
    p = normalise_params(spec, params)
    if kind == "partition":
        cm = edge.cut()
    elif kind == "latency":
        cm = edge.latency(int(p["ms"]), jitter=int(p["jitter"]), stream=p["stream"])
    elif kind == "bandwidth":
        cm = edge.bandwidth(int(p["kbps"]), stream=p["stream"])
    elif kind == "blackhole":
        cm = edge.blackhole(timeout_ms=int(p["timeout_ms"]), stream=p["stream"])
    elif kind == "reset":
        cm = edge.reset(timeout_ms=int(p["timeout_ms"]), stream=p["stream"])
    elif kind == "limit_data":
        cm = edge.cut_after(p["nbytes"], stream=p["stream"])
    elif kind == "slicer":
        cm = edge.slicer(p["average_size"], size_variation=p["size_variation"],
                         delay_us=p["delay_us"], stream=p["stream"])
    else:  # pragma: no cover - KINDS and this table are kept in step
        raise FaultError(f"no edge implementation for {kind!r}")
    with cm:
        yield


@contextlib.contextmanager
def node_fault(node: Any, kind: str, restart_timeout: float = 30.0) -> Iterator[None]:
    """Apply a node fault; recorded here as a window on the node's name.

    kill / terminate bring the node back at the end of the block (keeping its data files)
    because a schedule step is a *window*: the node is down inside it and up after it.
    """
    spec = kind_of(kind)
    if spec.target != "node":
        raise FaultError(f"fault {kind!r} applies to an edge, not to the node {node.name!r}")
    rec = _recorder.current()
    with rec.window("fault", kind, node.name) as ev:
        if kind == "pause":
            node.pause()
            try:
                yield
            finally:
                node.resume()
        elif kind in ("kill", "terminate"):
            if kind == "kill":
                node.kill()
            else:
                node.terminate()
            try:
                yield
            finally:
                node.start(timeout=restart_timeout)
                ev.detail["restarted"] = True
        elif kind == "restart":
            # SHUTDOWN SAVE: "keeping data" must not depend on the conf's save points.
            node.restart(keep_data=True, save=True, timeout=restart_timeout)
            yield
        elif kind == "restart_wipe":
            node.restart(keep_data=False, save=False, timeout=restart_timeout)
            yield
        else:  # pragma: no cover
            raise FaultError(f"no node implementation for {kind!r}")


def apply(topology: Any, kind: str, target: str, **params: Any) -> contextlib.AbstractContextManager[None]:
    """The fault `kind` on `target` ("r1->m" or "m") of a live topology, as a context manager.

    Before a node fault on a replica, its conf file gets `replicaof <its edge proxy>`: a
    replica whose role was set at runtime comes back from a restart as a master (the seed's
    warning), and a real deployment keeps the role in its config — which is also what lets a
    restarted replica with an RDB resume by partial resync.
    """
    spec = kind_of(kind)
    if spec.target == "edge":
        edges = getattr(topology, "edges", {})
        if target not in edges:
            raise FaultError(f"fault {kind!r} needs an edge; {target!r} is not one of {sorted(edges)}")
        return edge_fault(edges[target], kind, **params)
    nodes = getattr(topology, "nodes", {})
    if target not in nodes:
        raise FaultError(f"fault {kind!r} needs a node; {target!r} is not one of {sorted(nodes)}")
    if params:
        raise FaultError(f"fault {kind!r} takes no parameters, got {sorted(params)}")
    node = nodes[target]
    master = topology.master_of(target) if hasattr(topology, "master_of") else None
    if master is not None and kind != "pause":
        edge = topology.edge(target, master)
        node.set_directive("replicaof", f"{edge.listen_host} {edge.listen_port}")
    return node_fault(node, kind)


def step_applier(topology: Any) -> Any:
    """`apply` for `harness.schedule.ScheduleRun`: one schedule step -> its context manager."""

    def run_step(step: Any) -> contextlib.AbstractContextManager[None]:
        return apply(topology, step.kind, step.target, **step.param_dict)

    return run_step
