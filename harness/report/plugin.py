"""pytest hooks of the report: timeline sampling per test, records across xdist, files at the end.

Registered by the core plugin (`harness.plugin`) as "harness-report". It can also be loaded on
its own with `-p harness.report.plugin` (then it creates the per-test recorders and a default
SessionInfo itself); the module-level `pytest_configure` runs last and registers a
ReportPlugin only when no plugin of that name exists yet, so the two ways never double up.

Records travel from xdist workers to the controller as a `harness_record` attribute of the
teardown TestReport: pytest's report serialisation copies unknown attributes and execnet
carries plain JSON types, whereas a worker's stash never reaches the controller.
"""

from __future__ import annotations

import platform
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import harness
from harness.config import Settings, resolve
from harness.recorder import TestRecorder, set_current
from harness.report import model
from harness.report.redact import redact, redact_value
from harness.report.writer import Outputs, outputs_in, write_run
from harness.session import RECORDER_KEY, SESSION_KEY, SessionInfo
from harness.timeline import Sampler

PLUGIN_NAME = "harness-report"
_SAMPLER_KEY = pytest.StashKey[Sampler]()
_LOGS_KEY = pytest.StashKey[dict[str, str]]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


class ReportPlugin:
    """The report's hooks; one instance per pytest process (controller and each worker)."""

    def __init__(self, config: pytest.Config, standalone: bool = False,
                 sample_interval: float = 0.15) -> None:
        self.config = config
        self.standalone = standalone
        self.sample_interval = sample_interval
        self.collected: dict[str, model.Collected] = {}
        self.started = time.time()
        self.run_id = uuid.uuid4().hex[:12]
        self.outputs: Outputs | None = None
        self._samplers: set[Sampler] = set()
        self._workers: set[str] = set()  # xdist workers that reported (controller side)

    # --- worker (or single process) side: sample and record ---------------------------------
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """Start sampling before the fixtures run, so the initial sync is on the timeline.

        A plain (unordered) impl: it runs after the core's tryfirst impl created the recorder
        and before pytest's own setup impl builds the fixtures that start nodes.
        """
        recorder = item.stash.get(RECORDER_KEY, None)
        if recorder is None or item.stash.get(_SAMPLER_KEY, None) is not None:
            return
        sampler = Sampler(recorder, interval=self.sample_interval)
        try:
            sampler.start()
        except RuntimeError:  # cannot start a thread (interpreter shutting down): no timeline
            return
        item.stash[_SAMPLER_KEY] = sampler
        self._samplers.add(sampler)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Any:
        self._stop_sampler(item)  # before the finalizers stop the nodes
        yield

    def _stop_sampler(self, item: pytest.Item) -> None:
        sampler = item.stash.get(_SAMPLER_KEY, None)
        if sampler is not None:
            sampler.stop()
            self._samplers.discard(sampler)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Any:
        outcome = yield
        report = outcome.get_result()
        recorder = item.stash.get(RECORDER_KEY, None)
        try:
            if report.when in ("setup", "call") and recorder is not None:
                if report.failed or (report.when == "call" and recorder.hazards):
                    logs = item.stash.setdefault(_LOGS_KEY, {})
                    logs.update(_log_tails(recorder))
            if report.when == "teardown":
                self._stop_sampler(item)
                report.harness_record = self._record(item, recorder)
        except Exception as exc:  # noqa: BLE001 - the report must never fail a test
            report.harness_record = {"error": f"report record failed: {type(exc).__name__}: {exc}"}

    def _record(self, item: pytest.Item, recorder: TestRecorder | None) -> dict[str, Any]:
        function = getattr(item, "function", None)
        module = getattr(item, "module", None)
        description = model.first_line(getattr(function, "__doc__", None))
        family_description = model.first_line(getattr(module, "__doc__", None))
        logs = item.stash.get(_LOGS_KEY, {})
        if recorder is None:
            record: dict[str, Any] = {"description": description, "family_description": family_description,
                                      "meta": {}, "logs": logs}
        else:
            record = model.record_from_recorder(recorder, logs, description, family_description)
        callspec = getattr(item, "callspec", None)
        record["conformance"] = bool(callspec is not None and "server" in callspec.params)
        record["variant"] = _variant(item, recorder)
        return record

    # --- controller side: collect and write ---------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if _is_worker(self.config):
            return
        worker = getattr(report, "node", None)  # set by xdist on the controller
        if worker is not None:
            self._workers.add(str(getattr(getattr(worker, "gateway", None), "id", worker)))
        entry = self.collected.setdefault(report.nodeid, model.Collected(report.nodeid))
        entry.phases[report.when] = model.phase_from_report(report)
        record = getattr(report, "harness_record", None)
        if report.when == "teardown" and isinstance(record, dict):
            entry.record = record

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        for sampler in list(self._samplers):
            sampler.stop()
        self._samplers.clear()
        if _is_worker(self.config) or self.config.option.collectonly:
            return
        info = self.config.stash.get(SESSION_KEY, None)
        if info is None or not self.collected or not self._wanted(info):
            return
        report_dir = _absolute(info.settings.report_dir, self.config)
        try:
            results = self.build_results(info, int(exitstatus))
            self.outputs = write_run(results, outputs_in(report_dir))
        except Exception as exc:  # noqa: BLE001 - a report bug must not hide the test results
            self.outputs = outputs_in(report_dir)
            self.outputs.errors.append(f"could not build the report: {type(exc).__name__}: {exc}")

    def _wanted(self, info: SessionInfo) -> bool:
        """Write only for conformance runs: a test parametrized by `server`, or when asked.

        The core plugin is loaded for every pytest run in this repository (also the project's
        own unit tests), and those must not overwrite the last suite run's report.
        """
        forced = info.extra.get("report")
        if forced is not None:
            return bool(forced)
        if self.standalone:
            return True
        return any((c.record or {}).get("conformance") for c in self.collected.values())

    def build_results(self, info: SessionInfo, exitstatus: int) -> dict[str, Any]:
        settings = info.settings
        finished = time.time()
        tests = model.suite_order([
            model.build_test(entry, settings.seed, settings.rerun_command(nodeid))
            for nodeid, entry in self.collected.items()
        ])
        return {
            "schema_version": model.SCHEMA_VERSION,
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
            "run": {
                "id": self.run_id,
                "started": info.started or self.started,
                "finished": finished,
                "duration": round(finished - (info.started or self.started), 3),
                "seed": settings.seed,
                "seed_was_given": settings.seed_was_given,
                "command_line": redact(" ".join(["pytest", *settings.command_line])),
                "rerun": redact(settings.rerun_command()),
                "exitstatus": exitstatus,
                "workers": len(self._workers),
            },
            "environment": environment(info),
            "targets": [t.label for t in info.targets],
            "summary": model.summarize(tests),
            "tests": tests,
        }

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.outputs is None:
            return
        for error in self.outputs.errors:
            terminalreporter.write_line(f"harness report: {error}", red=True)
        if self.outputs.html in self.outputs.written:
            terminalreporter.write_line(f"harness report: {self.outputs.html}")


def _variant(item: pytest.Item, recorder: TestRecorder | None) -> str:
    """The test's other parameters (`disk` in `test_x[redis-7.0.15-disk]`): one matrix row each.

    Without this, parametrized variants of one behaviour would share a matrix cell.
    """
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ""
    ident = str(callspec.id)
    label = (recorder.meta.get("server") if recorder is not None else None) or (
        "no-server" if "server" in callspec.params and callspec.params["server"] is None else None)
    if label and label in ident:
        ident = ident.replace(label, "", 1)
    return ident.strip("-")


def _absolute(path: Path, config: pytest.Config) -> Path:
    return path if path.is_absolute() else Path(config.invocation_params.dir) / path


def _log_tails(recorder: TestRecorder) -> dict[str, str]:
    """Tails of every live node's log, read now because temp dirs vanish at teardown."""
    logs: dict[str, str] = {}
    for name, node in recorder.live_nodes().items():
        try:
            text = node.log_text()
        except Exception as exc:  # noqa: BLE001 - a missing log is reported, not raised
            text = f"(log not readable: {exc})"
        label = getattr(getattr(node, "build", None), "label", "")
        logs[f"{name} ({label})" if label else name] = redact(model.tail(text))
    return logs


def environment(info: SessionInfo) -> dict[str, Any]:
    """What the run ran on, secrets redacted (shown in the report's environment section)."""
    import redis

    settings = info.settings
    return redact_value({
        "harness_version": harness.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pytest": pytest.__version__,
        "redis_py": getattr(redis, "__version__", "?"),
        "builds": [
            {"label": b.label, "backend": b.backend, "version": b.version, "location": b.location,
             "source": b.source}
            for b in info.builds
        ],
        "targets": [
            {"label": t.label, "master": t.master.label, "replica": t.replica.label, "mixed": t.mixed}
            for t in info.targets
        ],
        "missing": list(info.missing),
        "toxiproxy": {"url": info.toxiproxy_url or settings.toxiproxy_url or "", "kind": info.toxiproxy_kind
                      or ("external" if settings.toxiproxy_url else "embedded")},
        "options": {
            "backends": settings.backends,
            "server_filters": settings.server_filters,
            "redis_servers": settings.redis_servers,
            "images": settings.images,
            "wait_timeout": settings.wait_timeout,
            "report_dir": str(settings.report_dir),
            "run_root": str(settings.run_root or ""),
        },
    })


# --- standalone mode (`-p harness.report.plugin` without the core plugin) ---------------------
class StandaloneRecorders:
    """Per-test recorders when the core plugin is absent (the core makes them otherwise)."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.stash.get(RECORDER_KEY, None) is not None:
            return
        recorder = TestRecorder(item.nodeid)
        module = getattr(item, "module", None)
        recorder.meta["family"] = model.first_line(getattr(module, "__doc__", None)).rstrip(".") \
            or model.title_from_name(item.nodeid.split("::")[0])
        item.stash[RECORDER_KEY] = recorder
        set_current(recorder)

    def pytest_runtest_logfinish(self) -> None:
        set_current(None)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register when loaded with `-p harness.report.plugin` and nobody registered us yet."""
    if config.pluginmanager.has_plugin(PLUGIN_NAME):
        return
    if SESSION_KEY not in config.stash:
        settings: Settings = resolve({}, {}, lambda key: None,
                                     worker=getattr(config, "workerinput", {}).get("workerid", "main"),
                                     command_line=list(config.invocation_params.args))
        config.stash[SESSION_KEY] = SessionInfo(settings=settings)
        config.pluginmanager.register(StandaloneRecorders(), "harness-report-recorders")
    config.pluginmanager.register(ReportPlugin(config, standalone=True), PLUGIN_NAME)
