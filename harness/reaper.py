"""`python -m harness reap`: clean up after a session that was killed before its teardown.

pytest runs the same reaper at every session start; this command is for a human who wants the
leftovers gone now (or a CI job's last step).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from harness.rundir import reap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness reap", description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", type=Path, default=None,
                        help="the --run-root the sessions used (default: the system temp dir)")
    args = parser.parse_args(argv)
    done = reap(args.run_root / "redis-repl-harness" if args.run_root else None)
    with contextlib.suppress(ImportError):
        from harness.nodes.images import reap_containers

        with contextlib.suppress(Exception):
            count = reap_containers()
            if count:
                done.append(f"removed {count} leftover containers")
    print("\n".join(done) if done else "nothing to reap")
    return 0
