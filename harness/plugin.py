"""The pytest plugin (loaded by the `pytest11` entry point): options, fixtures, markers, summary.

A suite test asks for `server` (the target it runs against: one build, or a mixed pair) and
`topology_factory`; this plugin parametrizes every such test over the servers found, starts
one Toxiproxy per pytest process, records what happens during each test, attaches the logs
of the nodes to failures, and prints a per-server summary. Settings follow CLI > environment
> ini, resolved once in `harness.config`.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness import config as harness_config
from harness import interrupts
from harness.expectations import Expect
from harness.network import Network
from harness.nodes.base import HarnessError, ServerBuild
from harness.nodes.binaries import BinaryError, discover, select
from harness.nodes.factory import NodeFactory
from harness.recorder import TestRecorder, set_current
from harness.rundir import PortAllocator, RunDir, reap
from harness.session import RECORDER_KEY, SESSION_KEY, SessionInfo, Target
from harness.topology import Topology, build_topology

MARKERS = [
    "min_version(version, reason=''): run only on servers at least this version (e.g. '7.0'); "
    "older ones are shown as skipped with the reason",
    "gap(selector, reason): a known gap of a backend or build (selector: 'python', 'pyredis', "
    "'redis-6.2.14', 'mixed', ...) - the test is an expected failure there, never silently skipped",
    "family(title): the behaviour family shown as the report's row group (default: module docstring)",
    "slow: takes more than ten seconds",
]
# Whether this configure put the harness's SIGINT handler in place (and unconfigure removes it).
_INTERRUPTS_KEY = pytest.StashKey[bool]()


# --------------------------------------------------------------------------------------- options
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("redis-repl-harness", "Redis replication harness")
    group.addoption("--redis-server", action="append", default=[], metavar="PATH",
                    help="a redis-server binary to test (repeatable); env HARNESS_REDIS_SERVER")
    group.addoption("--backend", action="append", default=[], metavar="NAME",
                    help=f"node backend(s): {', '.join(harness_config.BACKENDS)} (repeatable; default process)")
    group.addoption("--server", action="append", default=[], metavar="VERSION|LABEL",
                    help="only these servers, e.g. --server 7.0 --server pyredis (repeatable)")
    group.addoption("--image", action="append", default=[], metavar="IMAGE",
                    help="container image(s) for the container backend (repeatable)")
    group.addoption("--toxiproxy-url", default=None, metavar="URL",
                    help="use a running Toxiproxy (e.g. http://127.0.0.1:8474) instead of the embedded one")
    group.addoption("--harness-seed", default=None, metavar="N",
                    help="root seed for everything random (default: fresh, printed in the header)")
    group.addoption("--chaos-seed", default=None, metavar="N",
                    help="seed of chaos workloads and fault schedules (default: the root seed)")
    group.addoption("--wait-timeout", default=None, metavar="SECONDS",
                    help="default deadline of condition waits (default 15)")
    group.addoption("--report-dir", default=None, metavar="DIR", help="where reports go (default reports/)")
    group.addoption("--run-root", default=None, metavar="DIR",
                    help="where node temp dirs go (default: the system temp dir)")
    for env_key, ini_key in harness_config.ENV_AND_INI.values():
        parser.addini(ini_key, f"default for the option also set by ${env_key}", default=None)


def _cli_values(config: pytest.Config) -> dict[str, Any]:
    opt = config.option
    return {
        "redis_server": opt.redis_server,
        "backend": opt.backend,
        "server": opt.server,
        "image": opt.image,
        "toxiproxy_url": opt.toxiproxy_url,
        "seed": opt.harness_seed,
        "wait_timeout": opt.wait_timeout,
        "report_dir": opt.report_dir,
        "run_root": opt.run_root,
    }


# ----------------------------------------------------------------------------------- configure
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    # A Ctrl-C during a client's garbage collection must still stop the run.
    config.stash[_INTERRUPTS_KEY] = interrupts.install()
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    cli = _cli_values(config)
    if not cli["seed"] and hasattr(config, "workerinput"):
        cli["seed"] = config.workerinput.get("harness_seed")  # same seed on every xdist worker
    try:
        settings = harness_config.resolve(
            cli, os.environ, lambda key: config.getini(key), worker=worker,
            command_line=list(config.invocation_params.args),
        )
        if config.option.chaos_seed is not None:
            if not str(config.option.chaos_seed).lstrip("-").isdigit():
                raise harness_config.SettingsError(
                    f"--chaos-seed must be an integer, got {config.option.chaos_seed!r}")
            settings.chaos_seed = int(config.option.chaos_seed)
    except harness_config.SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    info = SessionInfo(settings=settings)
    try:
        _find_targets(info)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SESSION_KEY] = info
    _register_report_plugin(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_INTERRUPTS_KEY, False):
        interrupts.uninstall()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: hand every worker the controller's root seed."""
    node.workerinput["harness_seed"] = str(node.config.stash[SESSION_KEY].settings.seed)


def _register_report_plugin(config: pytest.Config) -> None:
    try:
        from harness.report.plugin import ReportPlugin
    except ImportError:
        return
    if not config.pluginmanager.has_plugin("harness-report"):
        config.pluginmanager.register(ReportPlugin(config), "harness-report")


def _python_build() -> ServerBuild | None:
    try:
        from harness.nodes.python import python_build
    except ImportError:
        return None
    return python_build()


def _container_builds(info: SessionInfo) -> list[ServerBuild]:
    try:
        from harness.nodes.container import container_builds
    except ImportError:
        info.missing.append("container backend: harness.nodes.container is not available")
        return []
    try:
        return list(container_builds(info.settings))
    except HarnessError as exc:
        info.missing.append(f"container backend: {exc}")
        return []


def _find_targets(info: SessionInfo) -> None:
    """Fill info.builds / info.targets / info.missing from the settings."""
    settings = info.settings
    try:
        found = discover(settings.redis_servers)
    except BinaryError as exc:
        raise HarnessError(f"--redis-server: {exc}") from None
    process_builds = select(found.builds, settings.server_filters)
    for series, exact, how in found.missing():
        info.missing.append(f"redis-server {series} (e.g. {exact}): {how}")
    builds: list[ServerBuild] = []
    targets: list[Target] = []
    if "process" in settings.backends:
        builds += process_builds
        targets += [Target(b.label, b, b) for b in process_builds]
    python = _python_build() if {"python", "mixed"} & set(settings.backends) else None
    if {"python", "mixed"} & set(settings.backends) and python is None:
        info.missing.append("python backend: harness.nodes.python is not available")
    if python is not None and "python" in settings.backends:
        builds.append(python)
        targets.append(Target(python.label, python, python))
    if python is not None and "mixed" in settings.backends:
        for build in process_builds:
            targets.append(Target(f"mixed:{build.label}>{python.label}", build, python))
            targets.append(Target(f"mixed:{python.label}>{build.label}", python, build))
    if "container" in settings.backends:
        containers = _container_builds(info)
        builds += containers
        targets += [Target(b.label, b, b) for b in containers]
    if settings.server_filters:
        wanted = settings.server_filters
        targets = [t for t in targets if t.master in process_builds or t.replica in process_builds
                   or any(w in t.label for w in wanted)]
        if not targets:
            found_labels = [b.label for b in found.builds] + ([python.label] if python is not None else [])
            has = ", ".join(found_labels) or "no server at all"
            info.missing.append(f"no target matches --server {' '.join(wanted)} (found: {has})")
    info.builds = builds
    info.targets = targets


# ------------------------------------------------------------------------------- parametrizing
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" not in metafunc.fixturenames:
        return
    info = metafunc.config.stash[SESSION_KEY]
    if info.targets:
        metafunc.parametrize("server", info.targets, ids=[t.label for t in info.targets], indirect=True)
    else:
        metafunc.parametrize("server", [None], ids=["no-server"], indirect=True)


def _marker_matches(selector: str, target: Target) -> bool:
    selector = selector.lower()
    builds = (target.master, target.replica)
    return (
        selector == target.label.lower()
        or (selector == "mixed" and target.mixed)
        or any(selector in (b.label.lower(), b.backend) for b in builds)
        or any(b.version == selector or b.version.startswith(selector + ".") for b in builds)
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Turn min_version / gap markers into skips and expected failures for the matching targets."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("server") if callspec else None
        if not isinstance(target, Target):
            continue
        for mark in item.iter_markers("min_version"):
            minimum = tuple(int(p) for p in str(mark.args[0]).split("."))
            for build in {target.master, target.replica}:
                if build.version_tuple[: len(minimum)] < minimum:
                    why = mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
                    item.add_marker(pytest.mark.skip(
                        reason=f"needs Redis {mark.args[0]}+, {build.label} is older. {why}".strip()))
                    break
        for mark in item.iter_markers("gap"):
            selector = mark.args[0]
            reason = mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("reason", "")
            if _marker_matches(selector, target):
                item.add_marker(pytest.mark.xfail(reason=f"known gap on {selector}: {reason}", strict=False))


# -------------------------------------------------------------------------------- session state
def pytest_sessionstart(session: pytest.Session) -> None:
    info = session.config.stash.get(SESSION_KEY, None)
    if info is None:
        return
    done = reap(info.settings.run_root / "redis-repl-harness" if info.settings.run_root else None)
    with contextlib.suppress(ImportError):
        from harness.nodes.container import reap_containers

        if "container" in info.settings.backends:
            reaped = reap_containers()
            if reaped:
                done.append(f"removed {reaped} leftover containers")
    info.extra["reaped"] = done


def pytest_report_header(config: pytest.Config) -> list[str]:
    info = config.stash.get(SESSION_KEY, None)
    if info is None:
        return []
    s = info.settings
    lines = [
        f"harness: seed {s.seed}{' (given)' if s.seed_was_given else ' (fresh)'}; backends {', '.join(s.backends)}; "
        f"toxiproxy {s.toxiproxy_url or 'embedded'}",
        "harness: targets " + (", ".join(t.label for t in info.targets) or "none"),
        f"harness: rerun with: {s.rerun_command()}",
    ]
    lines += [f"harness: not found: {m}" for m in info.missing]
    return lines


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def harness_session(pytestconfig: pytest.Config) -> SessionInfo:
    return pytestconfig.stash[SESSION_KEY]


@pytest.fixture(scope="session")
def settings(harness_session: SessionInfo) -> harness_config.Settings:
    """The run's Settings (seed, timeouts, rerun command)."""
    return harness_session.settings


@pytest.fixture(scope="session")
def run_dir(settings: harness_config.Settings) -> Iterator[RunDir]:
    root = settings.run_root / "redis-repl-harness" if settings.run_root else None
    directory = RunDir(root, worker=settings.worker)
    yield directory
    directory.remove()


@pytest.fixture(scope="session")
def port_allocator() -> PortAllocator:
    return PortAllocator()


@pytest.fixture(scope="session")
def toxiproxy_url(harness_session: SessionInfo) -> Iterator[str]:
    """The Toxiproxy this pytest process uses: the one given by URL, or an embedded child process."""
    settings = harness_session.settings
    if settings.toxiproxy_url:
        network = Network(settings.toxiproxy_url)
        try:
            network.version()
        except HarnessError as exc:
            pytest.exit(f"--toxiproxy-url: {exc}", returncode=4)
        harness_session.toxiproxy_url, harness_session.toxiproxy_kind = settings.toxiproxy_url, "external"
        yield settings.toxiproxy_url
        return
    from harness.toxiproxy import ToxiproxyProcess

    server = ToxiproxyProcess(seed=settings.seed)
    server.start()
    harness_session.toxiproxy_url, harness_session.toxiproxy_kind = server.url, "embedded"
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def network(toxiproxy_url: str) -> Iterator[Network]:
    """Edges created during the test; every proxy is deleted at teardown."""
    net = Network(toxiproxy_url)
    try:
        yield net
    finally:
        net.remove_all()


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> TestRecorder:
    return request.node.stash[RECORDER_KEY]


@pytest.fixture
def server(request: pytest.FixtureRequest, harness_session: SessionInfo) -> Target:
    """The target of this run: a Target (one build, or a mixed master>replica pair)."""
    target = getattr(request, "param", None)
    if target is None:
        missing = "; ".join(harness_session.missing) or "no server matched the --server filters"
        pytest.skip(f"no Redis server to test: {missing}. Run `python -m harness doctor` for details.")
    request.node.stash[RECORDER_KEY].meta["server"] = target.label
    return target


@pytest.fixture
def expect(server: Target) -> Expect:
    """Version-dependent expectations for the master's build."""
    return Expect(server.master)


@pytest.fixture
def node_factory(run_dir: RunDir, port_allocator: PortAllocator, settings: harness_config.Settings) -> Iterator[NodeFactory]:
    factory = NodeFactory(run_dir, port_allocator, settings)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def topology_factory(
    node_factory: NodeFactory, network: Network, server: Target, settings: harness_config.Settings
) -> Callable[..., Topology]:
    """`topology_factory("m <- r1, r2", directives={...}, link=True, wait=True)` -> Topology."""

    def make(description: str, **options: Any) -> Topology:
        options.setdefault("wait_timeout", settings.wait_timeout)
        target = options.pop("target", server)
        return build_topology(node_factory, network, target, description, **options)

    return make


# ----------------------------------------------------------------------------- per-test record
def _family(item: pytest.Item) -> str:
    mark = item.get_closest_marker("family")
    if mark:
        return str(mark.args[0])
    module = getattr(item, "module", None)
    doc = (getattr(module, "__doc__", None) or "").strip()
    if not doc:
        return item.nodeid.split("::")[0]
    # A suite's docstring opens with "Family: what it shows"; the matrix wants the short name.
    return doc.splitlines()[0].split(":")[0].rstrip(".")


def _behaviour(item: pytest.Item) -> str:
    func = getattr(item, "function", None)
    doc = (getattr(func, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else item.name.split("[")[0]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    rec = TestRecorder(item.nodeid)
    rec.meta.update(family=_family(item), behaviour=_behaviour(item),
                    test=item.name.split("[")[0], module=item.nodeid.split("::")[0])
    callspec = getattr(item, "callspec", None)
    target = callspec.params.get("server") if callspec else None
    if isinstance(target, Target):
        rec.meta["server"] = target.label
    item.stash[RECORDER_KEY] = rec
    set_current(rec)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    set_current(None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    rec = item.stash.get(RECORDER_KEY, None)
    if rec is None:
        return
    label = rec.meta.get("server")
    if label:
        report.user_properties.append(("harness_target", label))
    if report.when == "call" and rec.hazards:
        report.user_properties.append(("harness_hazards", list(rec.hazards)))
    if report.failed:
        for name, node in rec.live_nodes().items():
            with contextlib.suppress(Exception):
                tail = node.log_tail(60)
                if tail:
                    report.sections.append((f"node {name} ({node.build.label}) log, last 60 lines", tail))
        if report.when == "call" and label:
            report.sections.append(("harness rerun", item.config.stash[SESSION_KEY].settings.rerun_command(item.nodeid)))


# ------------------------------------------------------------------------------------ summary
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    info = config.stash.get(SESSION_KEY, None)
    if info is None:
        return
    per_target: dict[str, Counter[str]] = defaultdict(Counter)
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            props = dict(getattr(report, "user_properties", []) or [])
            label = props.get("harness_target")
            if label is None or getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when == "setup":
                continue
            shown = "hazard" if outcome == "passed" and props.get("harness_hazards") else outcome
            per_target[label][shown] += 1
    if not per_target:
        return
    terminalreporter.section("replication conformance per server")
    for label in sorted(per_target):
        counts = per_target[label]
        text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        terminalreporter.write_line(f"{label:40s} {text}")
    terminalreporter.write_line(f"seed {info.settings.seed}; rerun: {info.settings.rerun_command()}")
