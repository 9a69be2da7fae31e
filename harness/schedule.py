"""Seeded fault schedules: generate, validate, run, and shrink a failing one.

A schedule is a list of timed steps (`kind` on `target` from `at` for `duration` seconds)
within a run of `run_length` seconds. It is derived from one integer — the chaos seed,
itself derived from the root seed unless given — so a failure is reproduced by rerunning
with the same seed. When a schedule makes a check fail, `shrink` removes steps (delta
debugging) and then simplifies the survivors (shorter, default parameters) until every
remaining piece is needed; the minimal schedule is what gets printed and saved.

Validation happens before any node starts: an unknown fault, a target that is not in the
topology, a negative time, overlapping conflicting faults on one target, or a step that
ends after the run are all reported together in one clear error.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.faults import KINDS, FaultError, kind_of, normalise_params
from harness.nodes.base import HarnessError


class ScheduleError(HarnessError):
    """A schedule that cannot run; the message lists every problem found."""


@dataclass(frozen=True)
class Step:
    kind: str
    target: str
    at: float  # seconds from the start of the run
    duration: float
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def end(self) -> float:
        return self.at + self.duration

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)

    def describe(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.kind}({self.target}{' ' + extra if extra else ''}) at {self.at:.2f}s for {self.duration:.2f}s"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = dict(self.params)
        return d

    @classmethod
    def make(cls, kind: str, target: str, at: float, duration: float, **params: Any) -> Step:
        return cls(kind, target, float(at), float(duration), tuple(sorted(params.items())))


@dataclass
class Schedule:
    steps: list[Step]
    run_length: float
    seed: int | None = None

    def describe(self) -> list[str]:
        return [s.describe() for s in sorted(self.steps, key=lambda s: (s.at, s.target))]

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "run_length": self.run_length, "steps": [s.to_dict() for s in self.steps]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        try:
            steps = [Step.make(d["kind"], d["target"], d["at"], d["duration"], **d.get("params", {}))
                     for d in data["steps"]]
            return cls(steps, float(data["run_length"]), data.get("seed"))
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"not a schedule: {exc!r}") from None

    @property
    def last_heal(self) -> float:
        return max((s.end for s in self.steps), default=0.0)


# --- topology names ---------------------------------------------------------------------

def targets_from_description(description: str) -> tuple[set[str], set[str]]:
    """Node and edge names of a topology description (``"m <- r1, r2"``, ``"m <- r1 <- r2"``).

    Uses the topology's own parser so the two can never disagree about what a description means.
    """
    from harness.topology import TopologyError, parse

    try:
        plan = parse(description)
    except TopologyError as exc:
        raise ScheduleError(f"cannot read topology description: {exc}") from None
    nodes = {name for name, _ in plan}
    edges = {f"{name}->{master}" for name, master in plan if master is not None}
    return nodes, edges


# --- validation -------------------------------------------------------------------------

def _overlap(a: Step, b: Step) -> bool:
    """Windows overlap; an instantaneous step (duration 0) overlaps any window containing it."""
    if a.duration == 0 or b.duration == 0:
        return a.at <= b.end and b.at <= a.end
    return a.at < b.end and b.at < a.end


def _conflict(a: Step, b: Step) -> bool:
    """Two faults that cannot both be active on one target at once."""
    if a.target != b.target or not _overlap(a, b):
        return False
    ka, kb = kind_of(a.kind), kind_of(b.kind)
    if not (ka.stackable and kb.stackable):
        return True
    if a.kind != b.kind:
        return False
    sa, sb = a.param_dict.get("stream", "both"), b.param_dict.get("stream", "both")
    return sa == sb or "both" in (sa, sb)


def validate(schedule: Schedule, nodes: Iterable[str], edges: Iterable[str]) -> Schedule:
    """Check a schedule against a topology; return it with parameters normalised.

    Raises ScheduleError listing every problem, so a bad schedule never reaches a node.
    """
    nodes, edges = set(nodes), set(edges)
    problems: list[str] = []
    fixed: list[Step] = []
    if schedule.run_length <= 0:
        problems.append(f"run length must be positive, got {schedule.run_length}")
    for i, step in enumerate(schedule.steps):
        where = f"step {i + 1} ({step.kind} on {step.target!r})"
        try:
            kind = kind_of(step.kind)
            params = normalise_params(kind, step.param_dict)
        except FaultError as exc:
            problems.append(f"{where}: {exc}")
            continue
        allowed = edges if kind.target == "edge" else nodes
        if step.target not in allowed:
            problems.append(f"{where}: {step.kind} needs {'an edge' if kind.target == 'edge' else 'a node'} "
                            f"of the topology ({', '.join(sorted(allowed)) or 'none'}), got {step.target!r}")
        if step.at < 0:
            problems.append(f"{where}: starts at a negative time ({step.at})")
        if step.duration < 0:
            problems.append(f"{where}: negative duration ({step.duration})")
        if schedule.run_length > 0 and step.end > schedule.run_length:
            problems.append(f"{where}: ends at {step.end:.2f}s, after the run ({schedule.run_length:.2f}s)")
        fixed.append(replace(step, params=tuple(sorted(params.items()))))
    for i, a in enumerate(fixed):
        for b in fixed[i + 1:]:
            if _conflict(a, b):
                problems.append(f"conflicting faults on {a.target!r}: {a.describe()} overlaps {b.describe()}")
    if problems:
        raise ScheduleError("impossible fault schedule:\n  " + "\n  ".join(problems))
    return Schedule(fixed, schedule.run_length, schedule.seed)


# --- generation -------------------------------------------------------------------------

# Kinds a random schedule draws from by default: none loses acknowledged writes on the
# master, so every check can be exact. Node faults are aimed at replicas only.
DEFAULT_RANDOM_KINDS = ("partition", "latency", "bandwidth", "blackhole", "reset", "slicer", "kill", "pause")


def derive_seed(root_seed: int, purpose: str = "chaos") -> int:
    """A seed for one purpose derived from the root seed (stable across runs and platforms)."""
    return random.Random(f"{purpose}:{root_seed}").randrange(1, 2**31)


def generate(seed: int, nodes: Iterable[str], edges: Iterable[str], *, run_length: float = 6.0,
             max_faults: int = 4, kinds: Sequence[str] = DEFAULT_RANDOM_KINDS,
             node_targets: Iterable[str] | None = None, max_duration: float = 2.0) -> Schedule:
    """A random, valid schedule that is a pure function of its arguments."""
    for k in kinds:
        kind_of(k)
    if max_faults < 1 or run_length <= 0 or max_duration <= 0:
        raise ScheduleError("generate needs max_faults >= 1, run_length > 0 and max_duration > 0")
    rng = random.Random(f"schedule:{seed}")
    edges_l, nodes_l = sorted(edges), sorted(node_targets if node_targets is not None else nodes)
    usable = [k for k in kinds if (edges_l if KINDS[k].target == "edge" else nodes_l)]
    if not usable:
        raise ScheduleError(f"no targets for any of {list(kinds)}")
    steps: list[Step] = []
    wanted = rng.randint(1, max_faults)
    attempts = 0
    while len(steps) < wanted and attempts < 50 * max_faults:
        attempts += 1
        kind = rng.choice(usable)
        target = rng.choice(edges_l if KINDS[kind].target == "edge" else nodes_l)
        duration = round(rng.uniform(0.2, max_duration), 2)
        at = round(rng.uniform(0, max(0.0, run_length - duration)), 2)
        step = Step.make(kind, target, at, min(duration, run_length - at), **_random_params(rng, kind))
        if any(_conflict(step, other) for other in steps):
            continue
        steps.append(step)
    return validate(Schedule(steps, run_length, seed), set(nodes), edges_l)


def _random_params(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "latency":
        return {"ms": rng.choice([20, 50, 150]), "jitter": rng.choice([0, 10, 20]),
                "stream": rng.choice(["both", "downstream"])}
    if kind == "bandwidth":
        return {"kbps": rng.choice([8, 32, 128])}
    if kind == "blackhole":
        return {"timeout_ms": rng.choice([0, 300]), "stream": rng.choice(["both", "downstream", "upstream"])}
    if kind == "reset":
        return {"timeout_ms": rng.choice([0, 100])}
    if kind == "slicer":
        return {"average_size": rng.choice([8, 64]), "size_variation": 4, "delay_us": rng.choice([0, 200])}
    if kind == "limit_data":
        return {"nbytes": rng.choice([100, 1000, 10000])}
    return {}


# --- running ----------------------------------------------------------------------------

class ScheduleRun:
    """Runs a schedule on the wall clock, in the calling thread (`run`) or a background one.

    `apply(step)` returns the fault's context manager (see `harness.faults.apply`). Every
    window is closed — the fault healed — when the run ends, also when it is stopped early
    or a step fails; a step failure is raised by `run` / `join`.

    Prefer `run()` with the workload in the background: node faults restart servers, and
    the process backend asks the kernel to kill a server when the *thread* that started it
    exits (PR_SET_PDEATHSIG is per thread), so a server restarted from a short-lived
    schedule thread would die with that thread.
    """

    def __init__(self, schedule: Schedule,
                 apply: Callable[[Step], AbstractContextManager[Any]]) -> None:
        self.schedule = schedule
        self._apply = apply
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.started = 0.0
        self.applied: list[tuple[Step, float, float]] = []  # step, started, healed (wall clock)

    def run(self) -> ScheduleRun:
        """Apply every step at its time and heal it at its end; return when the last one healed."""
        self.started = time.monotonic()
        self._run()
        if self.error is not None:
            raise ScheduleError(f"a fault step failed: {self.error}") from self.error
        return self

    def start(self) -> ScheduleRun:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="fault-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> None:
        if self._thread is None:
            raise ScheduleError("join() without start()")
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(30)
            raise ScheduleError(f"fault schedule still running after {timeout:.1f}s")
        if self.error is not None:
            raise ScheduleError(f"a fault step failed: {self.error}") from self.error

    def __enter__(self) -> ScheduleRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        # Events: (time, order, action, step); heals sort before starts at the same instant.
        events: list[tuple[float, int, str, int]] = []
        for i, step in enumerate(self.schedule.steps):
            events.append((step.at, 1, "start", i))
            events.append((step.end, 0, "end", i))
        events.sort()
        open_: dict[int, tuple[ExitStack, float]] = {}
        try:
            for when, _order, action, i in events:
                delay = self.started + when - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                step = self.schedule.steps[i]
                if action == "start":
                    stack = ExitStack()
                    stack.enter_context(self._apply(step))
                    open_[i] = (stack, time.time())
                elif i in open_:
                    stack, began = open_.pop(i)
                    stack.close()
                    self.applied.append((step, began, time.time()))
        except BaseException as exc:
            self.error = exc
        finally:
            for i, (stack, began) in list(open_.items()):
                try:
                    stack.close()
                except BaseException as exc:
                    self.error = self.error or exc
                self.applied.append((self.schedule.steps[i], began, time.time()))


# --- shrinking --------------------------------------------------------------------------

@dataclass
class ShrinkResult:
    original: Schedule
    schedule: Schedule
    runs: int
    trail: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"original": self.original.to_dict(), "shrunk": self.schedule.to_dict(),
                "runs": self.runs, "trail": self.trail}

    def save(self, directory: Path, name: str = "shrunk_schedule.json") -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / name
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path


def shrink(schedule: Schedule, fails: Callable[[Schedule], bool], max_runs: int = 60) -> ShrinkResult:
    """Minimise a failing schedule: ddmin over its steps, then simplify each remaining step.

    `fails(candidate)` reruns the scenario with `candidate` and says whether it still fails.
    The result is 1-minimal in steps: removing any single remaining step makes it pass.
    """
    runs = 0
    trail: list[str] = []

    def still_fails(candidate: Schedule, why: str) -> bool:
        nonlocal runs
        if runs >= max_runs:
            return False
        runs += 1
        verdict = bool(fails(candidate))
        trail.append(f"{'fails' if verdict else 'passes'}: {why} -> {len(candidate.steps)} steps")
        return verdict

    def with_steps(steps: list[Step]) -> Schedule:
        return Schedule(steps, schedule.run_length, schedule.seed)

    steps = list(schedule.steps)
    n = 2
    while len(steps) >= 2:
        chunk = max(1, len(steps) // n)
        subsets = [steps[i:i + chunk] for i in range(0, len(steps), chunk)]
        reduced = False
        for subset in subsets:
            if still_fails(with_steps(subset), f"keep only {[s.describe() for s in subset]}"):
                steps, n, reduced = subset, 2, True
                break
        if not reduced:
            for subset in subsets:
                complement = [s for s in steps if s not in subset]
                if complement and still_fails(with_steps(complement), f"drop {[s.describe() for s in subset]}"):
                    steps, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(steps):
                break
            n = min(len(steps), 2 * n)
    # Simplify each surviving step: default parameters, then shorter windows.
    for i in range(len(steps)):
        step = steps[i]
        if step.params:
            defaults = tuple(sorted(normalise_params(kind_of(step.kind), {}).items()))
            if defaults != step.params:
                candidate = replace(step, params=defaults)
                trial = steps[:i] + [candidate] + steps[i + 1:]
                if still_fails(with_steps(trial), f"default params for {step.describe()}"):
                    steps[i] = step = candidate
        while step.duration > 0.2:
            candidate = replace(step, duration=round(step.duration / 2, 2))
            trial = steps[:i] + [candidate] + steps[i + 1:]
            if not still_fails(with_steps(trial), f"halve {step.describe()}"):
                break
            steps[i] = step = candidate
    return ShrinkResult(schedule, with_steps(steps), runs, trail)


def rerun_line(settings: Any, nodeid: str | None, chaos_seed: int) -> str:
    """The exact command that reruns this test with the same workload and fault schedule."""
    line = settings.rerun_command(nodeid) if hasattr(settings, "rerun_command") else f"pytest {nodeid or ''}"
    if getattr(settings, "chaos_seed", None) is not None or not hasattr(settings, "seed"):
        return f"{line} --chaos-seed={chaos_seed}"
    # Without an explicit --chaos-seed the chaos seed is derived from --harness-seed,
    # which the line already carries.
    return line


def chaos_seed_for(settings: Any) -> int:
    """--chaos-seed if given, else derived from the root seed (so --harness-seed alone reproduces)."""
    given = getattr(settings, "chaos_seed", None)
    if given is not None:
        return int(given)
    return derive_seed(int(getattr(settings, "seed", 0)))
