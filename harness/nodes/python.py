"""The Python Redis node as a child process, so kill -9, SIGSTOP and restarts act as on redis-server.

Everything but the argv is the process backend's: the same conf files, log, pidfile and
readiness wait, which keeps the two backends comparable in every suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.nodes.base import ServerBuild
from harness.nodes.process import ProcessNode


def python_build() -> ServerBuild:
    """The build entry the plugin offers for `--backend python`."""
    from harness.pyredis.server import REDIS_VERSION

    return ServerBuild(
        label="pyredis",
        backend="python",
        version=REDIS_VERSION,
        location="harness.pyredis",
        source="built in",
    )


class PythonNode(ProcessNode):
    def command(self, conf_path: Path) -> list[str]:
        return [sys.executable, "-m", "harness", "pyredis", str(conf_path)]
