"""`python -m harness doctor`: what this machine can test, and how to get what is missing.

The first thing a new user runs. It never fails on a missing piece; it says what was looked
at, what was found (with versions and paths), and the exact command that gets the rest.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys

from harness.nodes.binaries import BinaryError, discover


def _line(ok: bool, text: str) -> str:
    return f"  [{'ok' if ok else '--'}] {text}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--redis-server", action="append", default=[], metavar="PATH",
                        help="also check this binary (repeatable)")
    args = parser.parse_args(argv)
    out: list[str] = []

    out.append("redis-server builds (process backend):")
    try:
        found = discover(args.redis_server)
    except BinaryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for build in found.builds:
        out.append(_line(True, f"{build.label:16s} {build.location}  (found via {build.source})"))
    for candidate in found.candidates:
        if candidate.problem and not candidate.problem.startswith("duplicate"):
            out.append(_line(False, f"{candidate.path}: {candidate.problem}"))
    for series, exact, how in found.missing():
        out.append(_line(False, f"redis-server {series} (e.g. {exact}) not found; get it with: {how}"))

    out.append("Python node (python backend):")
    try:
        from harness.nodes.python import python_build

        build = python_build()
        out.append(_line(True, f"{build.label} emulating Redis {build.version}"))
    except ImportError as exc:
        out.append(_line(False, f"not available ({exc})"))

    out.append("Toxiproxy:")
    try:
        importlib.import_module("harness.toxiproxy")
        out.append(_line(True, "embedded server available (python -m harness toxiproxy)"))
    except ImportError as exc:
        out.append(_line(False, f"embedded server not importable ({exc}); use --toxiproxy-url"))
    try:
        importlib.import_module("toxiproxy")
        out.append(_line(True, "toxiproxy-python client installed"))
    except ImportError:
        out.append(_line(False, "toxiproxy-python missing; get it with: pip install toxiproxy-python"))

    out.append("Containers (container backend):")
    try:
        from harness.nodes.images import docker_status, harness_images

        ok, detail = docker_status()
        out.append(_line(ok, f"Docker engine: {detail}"))
        if ok:
            images = harness_images()
            out.append(_line(bool(images), "harness images: " + (", ".join(images) or
                             "none; build them with: python -m harness images build")))
    except ImportError as exc:
        out.append(_line(False, f"container backend not importable ({exc})"))

    out.append("Tools:")
    for tool, how in (("redis-benchmark", "apt-get install redis-tools"),
                      ("chromium", "apt-get install chromium  (for the report screenshot test)")):
        path = shutil.which(tool)
        out.append(_line(path is not None, f"{tool}: {path or 'not found; get it with: ' + how}"))
    print("\n".join(out))
    return 0
