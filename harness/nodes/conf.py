"""Config files in the seed's style: one shared base file, and one small file per node.

The seed configures each node with a file that only `include`s the common redis.conf and
sets what must differ (port, pidfile, dbfilename). We do the same, plus `dir` and `logfile`
so every node's files stay inside its own temp dir. Version-specific directives live in
extra base files that only new-enough servers include, because 6.2 refuses unknown
directives at start.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.nodes.base import NodeConfig, ServerBuild

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"

# base file name -> minimum (major, minor) that may include it
BASE_FILES: dict[str, tuple[int, int]] = {
    "redis.conf": (0, 0),
    "redis-7.conf": (7, 0),
    "redis-8.conf": (8, 0),
}


def fixtures_dir() -> Path:
    """The repo's fixtures/ (the harness runs from a checkout: `pip install -e .`)."""
    if not (FIXTURES / "redis.conf").is_file():
        raise FileNotFoundError(
            f"base config {FIXTURES / 'redis.conf'} is missing: run the harness from a checkout "
            "installed with `pip install -e .`"
        )
    return FIXTURES


def install_base_confs(run_dir: Path) -> None:
    """Copy the base conf files into the run dir once (nodes include them by absolute path)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in BASE_FILES:
        target = run_dir / name
        if not target.exists():
            shutil.copyfile(fixtures_dir() / name, target)


def base_includes(run_dir: Path, build: ServerBuild) -> list[Path]:
    if build.backend == "python":
        # The Python node understands the base file; version extras are for redis-server only.
        return [run_dir / "redis.conf"]
    return [run_dir / name for name, minimum in BASE_FILES.items() if build.version_tuple[:2] >= minimum]


def conf_path(config: NodeConfig) -> Path:
    return config.data_dir / f"redis{config.port}.conf"


def log_path(config: NodeConfig) -> Path:
    return config.data_dir / f"redis{config.port}.log"


def pid_path(config: NodeConfig) -> Path:
    return config.data_dir / f"redis_{config.port}.pid"


def render_node_conf(config: NodeConfig, build: ServerBuild) -> str:
    lines = [f"# node {config.name} ({build.label}), written by the harness"]
    lines += [f"include {path}" for path in base_includes(config.run_dir, build)]
    lines += [
        f"pidfile {pid_path(config)}",
        f"port {config.port}",
        f"dbfilename dump{config.port}.rdb",
        f"dir {config.data_dir}",
        f"logfile {log_path(config)}",
    ]
    for key, value in config.directives:
        lines.append(f"{key} {_conf_value(value)}")
    return "\n".join(lines) + "\n"


def _conf_value(value: str) -> str:
    """Quote the empty string (`save ""`); everything else is written as given."""
    return '""' if value == "" else value


def write_node_conf(config: NodeConfig, build: ServerBuild) -> Path:
    install_base_confs(config.run_dir)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    path = conf_path(config)
    path.write_text(render_node_conf(config, build))
    return path


class SeedStyleFiles:
    """The conf/log files of a node whose server reads the seed-style conf (process, Python,
    container backends alike): mixed into those Node classes so the paths live in one place."""

    config: NodeConfig
    build: ServerBuild
    password: str | None

    @property
    def conf_path(self) -> Path:
        return conf_path(self.config)

    @property
    def log_path(self) -> Path:
        return log_path(self.config)

    def write_conf(self) -> Path:
        """(Re)write the node's conf file; the harness's clients follow its `requirepass`."""
        self.password = self.config.directive("requirepass") or None
        return write_node_conf(self.config, self.build)
