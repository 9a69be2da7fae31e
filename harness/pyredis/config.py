"""redis.conf parsing and the live configuration behind CONFIG GET/SET.

The harness writes the same conf files for redis-server and the Python node, so the node reads
that syntax (include, quoting, `save ""`, memory units) and ignores what it does not implement
instead of refusing to start.
"""

from __future__ import annotations

import builtins
import fnmatch
import os
import shlex
from dataclasses import dataclass, field

ALIASES = {
    "slaveof": "replicaof",
    "slave-read-only": "replica-read-only",
    "slave-serve-stale-data": "replica-serve-stale-data",
    "min-slaves-to-write": "min-replicas-to-write",
    "min-slaves-max-lag": "min-replicas-max-lag",
    "repl-ping-slave-period": "repl-ping-replica-period",
    "slave-announce-ip": "replica-announce-ip",
    "slave-announce-port": "replica-announce-port",
    "slave-priority": "replica-priority",
}

DEFAULTS: dict[str, str] = {
    "port": "6379",
    "bind": "127.0.0.1",
    "dir": "",
    "dbfilename": "dump.rdb",
    "pidfile": "",
    "logfile": "",
    "loglevel": "notice",
    "requirepass": "",
    "masterauth": "",
    "masteruser": "",
    "replica-read-only": "yes",
    "replica-serve-stale-data": "yes",
    "repl-backlog-size": "1048576",
    "repl-backlog-ttl": "3600",
    "repl-timeout": "60",
    "repl-ping-replica-period": "10",
    "repl-diskless-sync": "yes",
    "repl-diskless-sync-delay": "5",
    "repl-diskless-sync-max-replicas": "0",
    "repl-diskless-load": "disabled",
    "min-replicas-to-write": "0",
    "min-replicas-max-lag": "10",
    "save": "3600 1 300 100 60 10000",
    "appendonly": "no",
    "appendfilename": "appendonly.aof",
    "databases": "16",
    "daemonize": "no",
    "protected-mode": "no",
    "timeout": "0",
    "tcp-keepalive": "300",
    "hz": "10",
    "maxclients": "10000",
    "maxmemory": "0",
    "maxmemory-policy": "noeviction",
    "enable-debug-command": "yes",
    "replica-announce-ip": "",
    "replica-announce-port": "0",
    "replica-priority": "100",
    "client-query-buffer-limit": "1073741824",
    "proto-max-bulk-len": "536870912",
    "client-output-buffer-limit": "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    "rdbcompression": "yes",
    "rdbchecksum": "yes",
    "stop-writes-on-bgsave-error": "yes",
    "lazyfree-lazy-expire": "no",
    "shutdown-timeout": "10",
    "repl-rdb-channel": "no",
    "replicaof": "",
}

# Directives we accept and keep (CONFIG GET shows them) but that change nothing here.
_MEMORY_KEYS = {"repl-backlog-size", "maxmemory", "client-query-buffer-limit", "proto-max-bulk-len"}
_BOOL_KEYS = {
    "replica-read-only", "replica-serve-stale-data", "repl-diskless-sync", "appendonly", "daemonize",
    "protected-mode", "rdbcompression", "rdbchecksum", "stop-writes-on-bgsave-error",
    "lazyfree-lazy-expire", "repl-rdb-channel",
}
_INT_KEYS = {
    "port", "repl-backlog-ttl", "repl-timeout", "repl-ping-replica-period", "repl-diskless-sync-delay",
    "repl-diskless-sync-max-replicas", "min-replicas-to-write", "min-replicas-max-lag", "databases",
    "timeout", "tcp-keepalive", "hz", "maxclients", "replica-announce-port", "replica-priority",
    "shutdown-timeout",
}
# Bounds redis-server enforces (its numeric config table); outside them it refuses to start.
_INT_MAX = 2**31 - 1
_INT_RANGES = {
    "port": (0, 65535), "replica-announce-port": (0, 65535), "databases": (1, _INT_MAX),
    "repl-timeout": (1, _INT_MAX), "repl-ping-replica-period": (1, _INT_MAX),
    "repl-backlog-ttl": (0, _INT_MAX), "repl-diskless-sync-delay": (0, _INT_MAX),
    "repl-diskless-sync-max-replicas": (0, _INT_MAX), "min-replicas-to-write": (0, _INT_MAX),
    "min-replicas-max-lag": (0, _INT_MAX), "timeout": (0, _INT_MAX), "tcp-keepalive": (0, _INT_MAX),
    "hz": (0, _INT_MAX), "maxclients": (1, _INT_MAX), "replica-priority": (0, _INT_MAX),
    "shutdown-timeout": (0, _INT_MAX),
}
# Cannot change at runtime (CONFIG SET answers with Redis's immutable-config error).
IMMUTABLE = {"port", "databases", "daemonize", "pidfile", "enable-debug-command", "bind"}


class ConfigError(Exception):
    """A conf file line or CONFIG SET value Redis would reject."""


def parse_memory(text: str) -> int:
    """`1mb` -> 1048576, `100k` -> 100000 (Redis's memtoull units)."""
    t = text.strip().lower()
    units = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "k": 1000, "m": 1000**2, "g": 1000**3, "b": 1}
    for suffix in ("kb", "mb", "gb", "k", "m", "g", "b"):
        if t.endswith(suffix):
            number = t[: -len(suffix)]
            if not number.lstrip("-").isdigit():
                raise ConfigError(f"argument must be a memory value: {text!r}")
            return int(number) * units[suffix]
    if not t.lstrip("-").isdigit():
        raise ConfigError(f"argument must be a memory value: {text!r}")
    return int(t)


@dataclass
class User:
    """An ACL user: enough to serve `masteruser` with its own password and command rules."""

    name: str
    enabled: bool = False
    nopass: bool = False
    passwords: set[str] = field(default_factory=set)
    allow_all: bool = False
    allowed: set[str] = field(default_factory=set)
    denied: set[str] = field(default_factory=set)
    allowed_categories: set[str] = field(default_factory=set)
    denied_categories: set[str] = field(default_factory=set)

    def apply(self, rules: list[str]) -> None:
        for rule in rules:
            low = rule.lower()
            if low == "on":
                self.enabled = True
            elif low == "off":
                self.enabled = False
            elif low == "nopass":
                self.nopass = True
                self.passwords.clear()
            elif low == "resetpass":
                self.nopass = False
                self.passwords.clear()
            elif rule.startswith(">"):
                self.passwords.add(rule[1:])
                self.nopass = False
            elif rule.startswith("<"):
                self.passwords.discard(rule[1:])
            elif low in ("+@all", "allcommands"):
                self.allow_all = True
                self.allowed.clear()
                self.denied.clear()
                self.allowed_categories.clear()
                self.denied_categories.clear()
            elif low in ("-@all", "nocommands"):
                self.allow_all = False
                self.allowed.clear()
                self.denied.clear()
                self.allowed_categories.clear()
                self.denied_categories.clear()
            elif low.startswith("+@"):
                self.allowed_categories.add(low[2:])
                self.denied_categories.discard(low[2:])
            elif low.startswith("-@"):
                self.denied_categories.add(low[2:])
                self.allowed_categories.discard(low[2:])
            elif low.startswith("+"):
                self.allowed.add(low[1:].split("|")[0])
                self.denied.discard(low[1:].split("|")[0])
            elif low.startswith("-"):
                self.denied.add(low[1:].split("|")[0])
                self.allowed.discard(low[1:].split("|")[0])
            elif low in ("~*", "allkeys", "&*", "allchannels", "resetkeys", "resetchannels", "reset") or low.startswith(("~", "%", "&")):
                if low == "reset":
                    self.__init__(self.name)  # type: ignore[misc]
            else:
                raise ConfigError(f"Error in ACL SETUSER modifier '{rule}': Syntax error")

    def can_run(self, name: str, categories: set[str]) -> bool:
        if name in self.denied:
            return False
        if name in self.allowed:
            return True
        if categories & self.denied_categories:
            return False
        if self.allow_all or "all" in self.allowed_categories:
            return True
        return bool(categories & self.allowed_categories)

    def describe(self) -> str:
        parts = [f"user {self.name}", "on" if self.enabled else "off"]
        if self.nopass:
            parts.append("nopass")
        parts += [f"#{_sha256(p)}" for p in sorted(self.passwords)]
        parts += ["~*", "&*"]
        parts.append("+@all" if self.allow_all else "-@all")
        parts += [f"+@{c}" for c in sorted(self.allowed_categories)]
        parts += [f"-@{c}" for c in sorted(self.denied_categories)]
        parts += [f"+{c}" for c in sorted(self.allowed)]
        parts += [f"-{c}" for c in sorted(self.denied)]
        return " ".join(parts)


def _sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


class Config:
    """The live settings of one node (strings, as CONFIG GET returns them)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = dict(DEFAULTS)
        self.unknown: list[str] = []
        self.users: dict[str, User] = {"default": User("default", enabled=True, nopass=True, allow_all=True)}

    # --- reading files ------------------------------------------------------------------------
    def load_file(self, path: str, depth: int = 0) -> None:
        if depth > 10:
            raise ConfigError(f"include nesting too deep at {path}")
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            raise ConfigError(f"Fatal error, can't open config file '{path}': {exc.strerror}") from None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                words = shlex.split(line, posix=True)
            except ValueError:
                raise ConfigError(f"*** FATAL CONFIG FILE ERROR *** line {lineno} in {path}: Unbalanced quotes") from None
            if not words:
                continue
            name = words[0].lower()
            if name == "include":
                # Relative to the working directory, like Redis.
                self.load_file(words[1], depth + 1)
                continue
            try:
                self.set_directive(name, words[1:], from_file=True)
            except ConfigError as exc:
                raise ConfigError(f"*** FATAL CONFIG FILE ERROR *** line {lineno} in {path}: >>> '{line}' {exc}") from None

    def set_directive(self, name: str, args: list[str], from_file: bool = False) -> None:
        name = ALIASES.get(name, name)
        if name == "user":
            if not args:
                raise ConfigError("wrong number of arguments")
            user = self.users.setdefault(args[0], User(args[0]))
            user.apply(args[1:])
            return
        if name == "save":
            value = " ".join(a for a in args if a != "")
            if from_file and self._saving_from_file is False:
                self._saving_from_file = True
                self.values["save"] = value
            elif from_file:
                self.values["save"] = (self.values["save"] + " " + value).strip() if value else ""
            else:
                self.values["save"] = value
            self._check_save(self.values["save"])
            return
        if name == "replicaof":
            if len(args) == 2 and args[0].lower() == "no" and args[1].lower() == "one":
                self.values["replicaof"] = ""
                return
            if len(args) != 2 or not args[1].isdigit():
                raise ConfigError("Invalid master port" if len(args) == 2 else "wrong number of arguments")
            self.values["replicaof"] = f"{args[0]} {args[1]}"
            return
        if name == "client-output-buffer-limit":
            self.values[name] = merge_output_limits(self.values[name], args)
            return
        if name not in DEFAULTS:
            if name not in self.unknown:
                self.unknown.append(name)
            self.values[name] = " ".join(args)
            return
        value = " ".join(args)
        self.validate(name, value)
        self.values[name] = value
        if name == "requirepass":
            self.sync_default_user()

    _saving_from_file = False

    def validate(self, name: str, value: str) -> None:
        if name in _MEMORY_KEYS:
            parse_memory(value)
        elif name in _BOOL_KEYS:
            if value.lower() not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
        elif name in _INT_KEYS:
            try:
                number = int(value)
            except ValueError:
                raise ConfigError("argument couldn't be parsed into an integer") from None
            low, high = _INT_RANGES.get(name, (-(2**63), 2**63 - 1))
            if not low <= number <= high:
                raise ConfigError(f"argument must be between {low} and {high} inclusive")
        elif name == "appendonly" and value != "no":
            raise ConfigError("appendonly yes is not supported by the Python node")
        elif name == "enable-debug-command" and value.lower() not in ("yes", "no", "local"):
            raise ConfigError("argument(s) must be one of the following: no, yes, local")

    @staticmethod
    def _check_save(value: str) -> None:
        parts = value.split()
        if len(parts) % 2 or not all(p.isdigit() for p in parts):
            raise ConfigError("Invalid save parameters")

    def sync_default_user(self) -> None:
        """requirepass is the default user's password, as in Redis 6+."""
        default = self.users["default"]
        pw = self.values["requirepass"]
        default.passwords = {pw} if pw else set()
        default.nopass = not pw

    # --- typed getters ------------------------------------------------------------------------
    def get(self, name: str) -> str:
        return self.values[ALIASES.get(name, name)]

    def int(self, name: str) -> int:
        value = self.get(name)
        return parse_memory(value) if name in _MEMORY_KEYS else int(value)

    def bool(self, name: str) -> bool:
        return self.get(name).lower() == "yes"

    def save_rules(self) -> list[tuple[builtins.int, builtins.int]]:
        parts = self.values["save"].split()
        return [(int(parts[i]), int(parts[i + 1])) for i in range(0, len(parts) - 1, 2)]

    def replicaof(self) -> tuple[str, builtins.int] | None:
        value = self.values.get("replicaof", "")
        if not value:
            return None
        host, port = value.split()
        return host, int(port)

    def matching(self, pattern: str) -> list[tuple[str, str]]:
        pat = pattern.lower()
        names = set(self.values)
        for alias in ALIASES:
            names.add(alias)
        out = []
        for name in sorted(names):
            if fnmatch.fnmatchcase(name, pat):
                out.append((name, self.values[ALIASES.get(name, name)]))
        return out

    def rdb_path(self) -> str:
        return os.path.join(self.values["dir"] or ".", self.values["dbfilename"])


def output_limits(value: str) -> dict[str, tuple[int, int, int]]:
    """`normal 0 0 0 replica 256mb 64mb 60 ...` -> {class: (hard, soft, soft_seconds)}."""
    words = value.split()
    out: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words) - 3, 4):
        cls = {"slave": "replica"}.get(words[i].lower(), words[i].lower())
        out[cls] = (parse_memory(words[i + 1]), parse_memory(words[i + 2]), int(words[i + 3]))
    return out


def merge_output_limits(current: str, args: list[str]) -> str:
    words = " ".join(args).split()
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits = output_limits(current)
    for i in range(0, len(words), 4):
        cls = {"slave": "replica"}.get(words[i].lower(), words[i].lower())
        if cls not in ("normal", "replica", "pubsub"):
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            limits[cls] = (parse_memory(words[i + 1]), parse_memory(words[i + 2]), int(words[i + 3]))
        except ValueError:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.") from None
    return " ".join(f"{c} {h} {s} {t}" for c, (h, s, t) in limits.items())


def split_conf_args(argv: list[str]) -> tuple[str | None, list[tuple[str, list[str]]]]:
    """redis-server style argv: `[conf] [--name value ...]` -> (conf path, directives)."""
    conf: str | None = None
    directives: list[tuple[str, list[str]]] = []
    i = 0
    if argv and not argv[0].startswith("--"):
        conf = argv[0]
        i = 1
    current: tuple[str, list[str]] | None = None
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and len(arg) > 2:
            current = (arg[2:].lower(), [])
            directives.append(current)
        elif conf is None and current is not None and current[1] and os.path.isfile(arg):
            conf = arg  # `--port N /path/to.conf`: the file comes after an option's value
        elif current is not None:
            current[1].append(arg)
        elif conf is None:
            conf = arg
        else:
            raise ConfigError(f"unexpected argument {arg!r}")
        i += 1
    return conf, directives


def quote(value: str) -> str:
    return shlex.quote(value)
