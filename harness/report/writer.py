"""Write a run's outputs: results.json, history, index.html and junit.xml.

Shared by the pytest plugin (end of session) and `python -m harness report` (rebuild), so a
rebuilt page is byte-for-byte what the run would have written from the same inputs. Every
file is written through a temp file and os.replace, so an interrupted write leaves the
previous file, never half of a new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.report import history as hist
from harness.report.html import render
from harness.report.junit import render_junit


@dataclass
class Outputs:
    results: Path
    html: Path
    junit: Path
    history: Path
    written: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def outputs_in(report_dir: Path) -> Outputs:
    return Outputs(report_dir / "results.json", report_dir / "index.html", report_dir / "junit.xml",
                   report_dir / "history.jsonl")


def _write(out: Outputs, path: Path, data: bytes) -> None:
    try:
        hist.atomic_write(path, data)
        out.written.append(path)
    except OSError as exc:
        out.errors.append(f"cannot write {path}: {exc.strerror or exc}")


def write_run(results: dict[str, Any], out: Outputs) -> Outputs:
    """End of a pytest run: triage against the history, append this run, write everything."""
    history = hist.load_history(out.history, strict=False)
    hist.apply(results, history)
    try:
        hist.append_history(out.history, hist.run_record(results))
        out.written.append(out.history)
    except OSError as exc:
        out.errors.append(f"cannot append to {out.history}: {exc.strerror or exc} (history left as it was)")
    _write(out, out.results, dump_results(results))
    _write(out, out.html, render(results).encode("utf-8"))
    _write(out, out.junit, render_junit(results))
    return out


def rebuild(results: dict[str, Any], history: list[dict[str, Any]], out: Outputs,
            junit: bool = True) -> Outputs:
    """`python -m harness report`: redraw from stored results; the history is only read."""
    hist.apply(results, history)
    _write(out, out.html, render(results).encode("utf-8"))
    if junit:
        _write(out, out.junit, render_junit(results))
    return out


def dump_results(results: dict[str, Any]) -> bytes:
    return json.dumps(results, indent=1, sort_keys=False, default=str).encode("utf-8") + b"\n"
