"""`python -m harness report`: rebuild the HTML from results.json, and gate CI on the outcome.

Rebuilding lets a report be re-rendered after the history grew (for example after the
nightly job reran the failures with the same seed) without rerunning anything.
`--fail-on` turns the triage into an exit code so a workflow can fail only on failures that
reproduce, not on flakes. Bad input is a one-line error and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report import history as hist
from harness.report.model import ResultsError, load_results
from harness.report.writer import Outputs, rebuild

FAIL_ON = ("none", "fail", "reproducible", "new")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """argparse's default exits with status 2 and usage; keep that but one line shorter."""
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m harness report",
                     description="Rebuild the HTML report from results.json (and the history), "
                                 "and optionally gate CI on failures.")
    parser.add_argument("--results", type=Path, default=Path("reports/results.json"),
                        help="results.json written by a `pytest suites/` run (default: %(default)s)")
    parser.add_argument("--history", type=Path, default=None,
                        help="history.jsonl to triage against (default: history.jsonl next to the results)")
    parser.add_argument("--out", type=Path, default=None,
                        help="HTML file to write (default: index.html next to the results)")
    parser.add_argument("--junit", type=Path, default=None,
                        help="also rewrite JUnit XML here (default: junit.xml next to the results)")
    parser.add_argument("--no-junit", action="store_true", help="do not rewrite the JUnit XML")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="none",
                        help="exit 1 when a test failed (fail), failed again with the same seed "
                             "(reproducible) or failed for the first time (new); default: never")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    results_path: Path = args.results
    base = results_path.parent
    history_path: Path = args.history or base / "history.jsonl"
    try:
        results = load_results(results_path)
        if args.history is not None and not history_path.exists():
            raise ResultsError(f"history file {history_path} does not exist")
        history = hist.load_history(history_path, strict=True)
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Outputs(results=results_path, html=args.out or base / "index.html",
                  junit=args.junit or base / "junit.xml", history=history_path)
    rebuild(results, history, out, junit=not args.no_junit)
    for error in out.errors:
        print(f"error: {error}", file=sys.stderr)
    if out.errors:
        return 2
    tests = results.get("tests", [])
    failed = [t for t in tests if t["outcome"] == "fail"]
    repro = [t for t in failed if t.get("triage") == "reproducible"]
    flaky = [t for t in failed if t.get("triage") == "flaky"]
    new = [t for t in failed if t.get("new_failure")]
    print(f"wrote {out.html} ({len(tests)} tests: {len(failed)} failed, {len(repro)} reproducible, "
          f"{len(flaky)} flaky, {len(new)} new)")
    gate = {"none": [], "fail": failed, "reproducible": repro, "new": new}[args.fail_on]
    for test in gate:
        print(f"{args.fail_on}: {test['nodeid']}: {test.get('message', '')}")
        print(f"  rerun: {test.get('rerun', '')}")
    return 1 if gate else 0
