"""One settings object for a run, built from pytest options, environment and ini (in that order).

Nothing else in the harness reads `os.environ`: a suite, a backend or the report asks the
`Settings` it was given. That keeps precedence rules in one place and makes a run
reproducible from the command line the report prints.
"""

from __future__ import annotations

import os
import random
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BACKENDS = ("process", "python", "container", "mixed")

# option name -> (environment variable, ini key)
ENV_AND_INI: dict[str, tuple[str, str]] = {
    "redis_server": ("HARNESS_REDIS_SERVER", "harness_redis_server"),
    "backend": ("HARNESS_BACKEND", "harness_backend"),
    "server": ("HARNESS_SERVER", "harness_server"),
    "image": ("HARNESS_IMAGE", "harness_image"),
    "toxiproxy_url": ("HARNESS_TOXIPROXY_URL", "harness_toxiproxy_url"),
    "seed": ("HARNESS_SEED", "harness_seed"),
    "wait_timeout": ("HARNESS_WAIT_TIMEOUT", "harness_wait_timeout"),
    "report_dir": ("HARNESS_REPORT_DIR", "harness_report_dir"),
    "run_root": ("HARNESS_RUN_ROOT", "harness_run_root"),
}


class SettingsError(ValueError):
    """A bad option value; the message names the option and the accepted values."""


@dataclass
class Settings:
    redis_servers: list[str] = field(default_factory=list)  # explicit binaries (--redis-server)
    backends: list[str] = field(default_factory=lambda: ["process"])
    server_filters: list[str] = field(default_factory=list)  # e.g. ["7.0", "pyredis"]
    images: list[str] = field(default_factory=list)
    toxiproxy_url: str | None = None  # None: start the embedded server
    seed: int = 0
    seed_was_given: bool = False
    chaos_seed: int | None = None  # seeds chaos workloads/schedules; defaults to `seed`
    wait_timeout: float = 15.0  # default deadline for condition waits, seconds
    report_dir: Path = Path("reports")
    run_root: Path | None = None  # where nodes' temp dirs go (default: the system temp dir)
    worker: str = "main"  # xdist worker id ("gw0", ...) or "main"
    command_line: list[str] = field(default_factory=list)

    def rerun_command(self, nodeid: str | None = None) -> str:
        """The command that reruns this run (or one test) with the same seed and servers."""
        parts = ["pytest"]
        if nodeid:
            parts.append(_quote(nodeid))
        parts.append(f"--harness-seed={self.seed}")
        for path in self.redis_servers:
            parts.append(f"--redis-server={_quote(path)}")
        for backend in self.backends:
            if backend != "process" or len(self.backends) > 1:
                parts.append(f"--backend={backend}")
        for server in self.server_filters:
            parts.append(f"--server={_quote(server)}")
        for image in self.images:
            parts.append(f"--image={_quote(image)}")
        if self.toxiproxy_url:
            parts.append(f"--toxiproxy-url={self.toxiproxy_url}")
        if self.chaos_seed is not None and self.chaos_seed != self.seed:
            parts.append(f"--chaos-seed={self.chaos_seed}")
        return " ".join(parts)


def _quote(text: str) -> str:
    return text if all(c.isalnum() or c in "-_./:=[]>" for c in text) else shlex.quote(text)


def _split(value: str) -> list[str]:
    """Environment and ini lists accept commas, whitespace or os.pathsep between items."""
    for sep in (os.pathsep, ","):
        value = value.replace(sep, " ")
    return [item for item in value.split() if item]


def resolve(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Callable[[str], Any],
    worker: str = "main",
    command_line: Sequence[str] = (),
) -> Settings:
    """Build Settings with precedence CLI > environment > ini > default.

    `cli` maps option names (keys of ENV_AND_INI) to parsed values (None or [] when unset);
    `ini` returns the ini value for a key or None.
    """

    from_cli: set[str] = set()

    def pick(name: str) -> Any:
        value = cli.get(name)
        if value not in (None, [], ""):
            from_cli.add(name)
            return value
        env_key, ini_key = ENV_AND_INI[name]
        if env.get(env_key):
            return env[env_key]
        ini_value = ini(ini_key)
        if ini_value not in (None, [], ""):
            return ini_value
        return None

    def as_list(name: str) -> list[str]:
        """Repeated CLI options are kept whole (paths may hold spaces); env/ini strings are split."""
        value = pick(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if name in from_cli else _split(value)
        return [str(item) for item in value]

    settings = Settings(worker=worker, command_line=list(command_line))
    settings.redis_servers = as_list("redis_server")
    backends = as_list("backend") or ["process"]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise SettingsError(
            f"unknown backend {', '.join(map(repr, unknown))}: choose from {', '.join(BACKENDS)}"
        )
    settings.backends = list(dict.fromkeys(backends))
    settings.server_filters = as_list("server")
    settings.images = as_list("image")
    if settings.images and "container" not in settings.backends:
        settings.backends.append("container")
    url = pick("toxiproxy_url")
    if url:
        url = str(url).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise SettingsError(f"--toxiproxy-url must look like http://127.0.0.1:8474, got {url!r}")
        settings.toxiproxy_url = url
    seed = pick("seed")
    if seed is None:
        settings.seed = random.SystemRandom().randrange(1, 2**31)
    else:
        try:
            settings.seed = int(seed)
        except ValueError:
            raise SettingsError(f"--harness-seed must be an integer, got {seed!r}") from None
        settings.seed_was_given = True
    timeout = pick("wait_timeout")
    if timeout is not None:
        try:
            settings.wait_timeout = float(timeout)
        except ValueError:
            raise SettingsError(f"--wait-timeout must be a number of seconds, got {timeout!r}") from None
        if settings.wait_timeout <= 0:
            raise SettingsError(f"--wait-timeout must be positive, got {timeout!r}")
    report_dir = pick("report_dir")
    if report_dir:
        settings.report_dir = Path(str(report_dir))
    run_root = pick("run_root")
    if run_root:
        settings.run_root = Path(str(run_root))
    return settings
