"""Command-line dispatcher: `python -m harness <command> [args]`.

Each command lives in the module that owns it; the dispatcher imports it lazily so that
`python -m harness doctor` does not pay for importing the Python Redis node, and a broken
optional piece cannot stop the others from working.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# command name -> ("module", "function", one-line help). Each function takes argv (list[str]) and
# returns the process exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "doctor": ("harness.doctor", "main", "show which servers, backends and tools were found"),
    "toxiproxy": ("harness.toxiproxy.cli", "main", "run the embedded Toxiproxy-compatible server"),
    "pyredis": ("harness.pyredis.cli", "main", "run the Python Redis node"),
    "images": ("harness.nodes.images", "main", "build local container images from redis-server binaries"),
    "report": ("harness.report.cli", "main", "rebuild the HTML report from results.json"),
    "reap": ("harness.reaper", "main", "kill processes and remove temp dirs left by a killed session"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: python -m harness <command> [options]", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines.append("")
    lines.append("Run `python -m harness <command> --help` for the options of one command.")
    return "\n".join(lines)


def _resolve(name: str) -> Callable[[list[str]], int]:
    module_name, func_name, _ = COMMANDS[name]
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int] = getattr(module, func_name)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        return int(_resolve(name)(rest) or 0)
    except KeyboardInterrupt:
        return 130
