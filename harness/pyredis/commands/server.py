"""Server commands: INFO, CONFIG, DEBUG, SAVE/BGSAVE/LASTSAVE, SHUTDOWN, ACL."""

from __future__ import annotations

import os
import resource
import sys
import time

from harness.pyredis import resp
from harness.pyredis.commands import SYNTAX, CommandError, command, to_int
from harness.pyredis.config import IMMUTABLE, ConfigError, parse_memory


def _section_server(server) -> list[str]:
    from harness.pyredis.server import PYREDIS_VERSION, REDIS_VERSION

    uptime = int(time.time() - server.start_time)
    return [
        "# Server",
        f"redis_version:{REDIS_VERSION}",
        f"pyredis_version:{PYREDIS_VERSION}",
        "redis_git_sha1:00000000",
        "redis_git_dirty:0",
        "redis_mode:standalone",
        f"os:{os.uname().sysname} {os.uname().release} {os.uname().machine}",
        "arch_bits:64",
        "multiplexing_api:asyncio",
        f"process_id:{os.getpid()}",
        f"run_id:{server.run_id}",
        f"tcp_port:{server.config.int('port')}",
        f"server_time_usec:{int(time.time() * 1_000_000)}",
        f"uptime_in_seconds:{uptime}",
        f"uptime_in_days:{uptime // 86400}",
        f"hz:{server.config.get('hz')}",
        f"executable:{os.path.abspath(sys.argv[0]) if sys.argv else ''}",
        f"config_file:{server.config_file or ''}",
    ]


def _section_clients(server) -> list[str]:
    normal = [c for c in server.clients.values() if c.replica is None and not c.is_master_link]
    return [
        "# Clients",
        f"connected_clients:{len(normal)}",
        "maxclients:10000",
        f"blocked_clients:{sum(1 for c in normal if c.blocked)}",
    ]


def _section_memory(server) -> list[str]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    backlog = server.repl.backlog
    return [
        "# Memory",
        f"used_memory:{rss}",
        f"used_memory_human:{rss / 1048576:.2f}M",
        f"used_memory_rss:{rss}",
        f"maxmemory:{parse_memory(server.config.get('maxmemory'))}",
        f"maxmemory_policy:{server.config.get('maxmemory-policy')}",
        f"mem_total_replication_buffers:{0 if backlog is None else backlog.histlen}",
        "mem_clients_slaves:0",
    ]


def _section_persistence(server) -> list[str]:
    p = server.persistence
    return [
        "# Persistence",
        f"loading:{1 if server.loading else 0}",
        "async_loading:0",
        f"rdb_changes_since_last_save:{server.dirty - p.dirty_at_save}",
        f"rdb_bgsave_in_progress:{1 if p.in_progress() else 0}",
        f"rdb_last_save_time:{p.lastsave}",
        f"rdb_last_bgsave_status:{'ok' if p.last_bgsave_ok else 'err'}",
        f"rdb_last_load_keys_expired:{p.expired_on_load}",
        f"rdb_last_load_keys_loaded:{p.loaded_keys}",
        "aof_enabled:0",
        "aof_rewrite_in_progress:0",
    ]


def _section_stats(server) -> list[str]:
    repl = server.repl
    return [
        "# Stats",
        f"total_connections_received:{server.stat_connections}",
        f"total_commands_processed:{server.stat_commands}",
        f"expired_keys:{server.keyspace.expired_keys}",
        "evicted_keys:0",
        f"sync_full:{repl.sync_full}",
        f"sync_partial_ok:{repl.sync_partial_ok}",
        f"sync_partial_err:{repl.sync_partial_err}",
        f"total_net_repl_input_bytes:{server.replica_side.read_offset}",
        f"total_net_repl_output_bytes:{repl.net_output_bytes}",
    ]


def _section_replication(server) -> list[str]:
    repl = server.repl
    rs = server.replica_side
    lines = ["# Replication", f"role:{'slave' if rs.is_replica() else 'master'}"]
    if rs.is_replica():
        lines += rs.info_lines()
    lines.append(f"connected_slaves:{len(repl.replicas)}")
    config = server.config
    if config.int("min-replicas-to-write") and config.int("min-replicas-max-lag"):
        lines.append(f"min_slaves_good_slaves:{repl.good_replicas()}")
    lines += repl.info_lines()
    backlog = repl.backlog
    lines += [
        "master_failover_state:no-failover",
        f"master_replid:{repl.replid}",
        f"master_replid2:{repl.replid2}",
        f"master_repl_offset:{repl.offset}",
        f"second_repl_offset:{repl.second_offset}",
        f"repl_backlog_active:{0 if backlog is None else 1}",
        f"repl_backlog_size:{config.int('repl-backlog-size')}",
        f"repl_backlog_first_byte_offset:{0 if backlog is None else backlog.first}",
        f"repl_backlog_histlen:{0 if backlog is None else backlog.histlen}",
    ]
    return lines


def _section_keyspace(server) -> list[str]:
    lines = ["# Keyspace"]
    for db in server.keyspace.dbs:
        if db.data:
            lines.append(f"db{db.index}:keys={len(db.data)},expires={len(db.expires)},avg_ttl=0")
    return lines


SECTIONS = {
    "server": _section_server,
    "clients": _section_clients,
    "memory": _section_memory,
    "persistence": _section_persistence,
    "stats": _section_stats,
    "replication": _section_replication,
    "keyspace": _section_keyspace,
}


@command("info", -1, "loading stale", "dangerous")
def info(client, args):
    wanted = [a.decode(errors="replace").lower() for a in args[1:]] or ["default"]
    names: list[str] = []
    for w in wanted:
        if w in ("all", "everything", "default"):
            names += list(SECTIONS)
        elif w in SECTIONS:
            names.append(w)
    parts = []
    for name in dict.fromkeys(names):
        parts.append("\r\n".join(SECTIONS[name](client.server)))
    return resp.bulk(("\r\n\r\n".join(parts) + "\r\n").encode())


@command("config", -2, "admin noscript loading stale", "admin dangerous")
def config_cmd(client, args):
    server = client.server
    config = server.config
    sub = args[1].lower()
    if sub == b"get" and len(args) >= 3:
        out: list = []
        seen = set()
        for pattern in args[2:]:
            for name, value in config.matching(pattern.decode(errors="replace")):
                if name not in seen:
                    seen.add(name)
                    out += [name, value]
        return resp.map_(out)
    if sub == b"set" and len(args) >= 4 and len(args) % 2 == 0:
        for i in range(2, len(args), 2):
            name = args[i].decode(errors="replace").lower()
            value = args[i + 1].decode(errors="replace")
            from harness.pyredis.config import ALIASES, DEFAULTS

            real = ALIASES.get(name, name)
            if real not in DEFAULTS and real not in config.values:
                raise CommandError(f"ERR Unknown option or number of args for CONFIG SET - '{name}'")
            if real in IMMUTABLE:
                raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config")
            if real == "client-output-buffer-limit":
                try:
                    config.set_directive(real, [value])
                except ConfigError as exc:
                    raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}") from None
                _apply(server, real)
                continue
            try:
                config.validate(real, value)
                if real == "save":
                    config._check_save(value)
                if real == "replicaof":
                    raise ConfigError("can't set immutable config")
            except ConfigError as exc:
                raise CommandError(f"ERR CONFIG SET failed (possibly related to argument '{name}') - {exc}") from None
            config.values[real] = value
            _apply(server, real)
        return resp.OK
    if sub == b"resetstat" and len(args) == 2:
        repl = server.repl
        repl.sync_full = repl.sync_partial_ok = repl.sync_partial_err = 0
        server.stat_commands = 0
        server.stat_connections = 0
        server.keyspace.expired_keys = 0
        return resp.OK
    if sub == b"rewrite" and len(args) == 2:
        return resp.OK
    if sub in (b"get", b"set", b"resetstat", b"rewrite"):
        raise CommandError(f"ERR wrong number of arguments for 'config|{sub.decode()}' command")
    raise CommandError(f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try CONFIG HELP.")


def _apply(server, name: str) -> None:
    server.repl.refresh_settings()
    if name == "requirepass":
        server.config.sync_default_user()
    elif name == "repl-backlog-size" and server.repl.backlog is not None:
        server.repl.backlog.resize(server.config.int("repl-backlog-size"))
    elif name == "logfile":
        server.log.reopen(server.config.get("logfile"))
    elif name == "client-query-buffer-limit":
        server.query_buffer_limit = server.config.int(name)


@command("save", 1, "admin noscript", "admin dangerous")
def save(client, args):
    if client.server.persistence.in_progress():
        raise CommandError("ERR Background save already in progress")
    try:
        client.server.persistence.save()
    except OSError as exc:
        client.server.log.warning(f"Failed opening the temp RDB file for saving: {exc.strerror}")
        raise CommandError("ERR") from None
    client.server.log.notice("DB saved on disk")
    return resp.OK


@command("bgsave", -1, "admin noscript", "admin dangerous")
def bgsave(client, args):
    if client.server.persistence.bgsave():
        return resp.simple("Background saving started")
    raise CommandError("ERR Background save already in progress")


@command("lastsave", 1, "fast loading stale", "admin dangerous")
def lastsave(client, args):
    return resp.integer(client.server.persistence.lastsave)


@command("shutdown", -1, "admin noscript loading stale", "admin dangerous")
def shutdown(client, args):
    import asyncio

    save_opt: bool | None = None
    now = False
    for a in args[1:]:
        opt = a.lower()
        if opt == b"nosave":
            save_opt = False
        elif opt == b"save":
            save_opt = True
        elif opt in (b"now", b"force", b"abort"):
            now = now or opt == b"now"
            if opt == b"abort":
                raise CommandError("ERR No shutdown in progress.")
        else:
            raise CommandError(SYNTAX)
    server = client.server

    async def run() -> bytes:
        ok = await server.shutdown(save_opt, now=now)
        if not ok:
            return resp.error("ERR Errors trying to SHUTDOWN. Check logs.")
        await asyncio.sleep(3600)
        return b""

    from harness.pyredis.commands import Blocked

    return Blocked(run())


@command("debug", -2, "admin noscript loading stale", "admin dangerous")
def debug(client, args):
    server = client.server
    if server.config.get("enable-debug-command").lower() == "no":
        raise CommandError(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run "
            "it from a local connection, otherwise you need to set this option in the configuration file, and "
            "then restart the server."
        )
    sub = args[1].lower()
    if sub == b"sleep" and len(args) == 3:
        try:
            seconds = float(args[2])
        except ValueError:
            raise CommandError("ERR value is not a valid float") from None
        time.sleep(max(seconds, 0))
        return resp.OK
    if sub == b"digest" and len(args) == 2:
        from harness.pyredis import digest

        dbs = {
            db.index: {k: (v, db.expires.get(k)) for k, v in db.data.items()}
            for db in server.keyspace.dbs
            if db.data
        }
        return resp.simple(digest.dataset_digest(dbs))
    if sub == b"digest-value":
        from harness.pyredis import digest

        out = []
        for key in args[2:]:
            value = client.db.data.get(key)
            out.append(resp.Raw(resp.simple(digest.value_digest(value, client.db.expires.get(key)))))
        return resp.array(out)
    if sub == b"set-active-expire" and len(args) == 3:
        server.active_expire_enabled = args[2] != b"0"
        return resp.OK
    if sub == b"reload":
        server.persistence.save()
        server.persistence.load_at_start()
        return resp.OK
    if sub == b"populate" and len(args) >= 3:
        count = to_int(args[2])
        prefix = args[3] if len(args) > 3 else b"key"
        size = to_int(args[4]) if len(args) > 4 else None
        db = client.db
        for i in range(count):
            key = b"%s:%d" % (prefix, i)
            if key in db.data:
                continue
            value = b"value:%d" % i
            if size is not None:
                value = value[:size].ljust(size, b"\x00")
            db.data[key] = value
        return resp.OK
    if sub == b"replicate" and len(args) >= 3:
        server.repl.feed(client.db.index, args[2:])
        return resp.OK
    if sub == b"object" and len(args) == 3:
        value = client.db.data.get(args[2])
        if value is None:
            raise CommandError("ERR no such key")
        return resp.simple("Value at:0x0 refcount:1 encoding:raw serializedlength:0 lru:0 lru_seconds_idle:0")
    if sub == b"jmap" or sub == b"change-repl-id":
        server.repl.change_replid()
        server.repl.clear_replid2()
        return resp.OK
    raise CommandError(f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try DEBUG HELP.")


@command("acl", -2, "admin noscript loading stale", "admin dangerous")
def acl(client, args):
    config = client.server.config
    sub = args[1].lower()
    if sub == b"setuser" and len(args) >= 3:
        from harness.pyredis.config import User

        name = args[2].decode(errors="replace")
        user = config.users.get(name) or User(name)
        try:
            user.apply([a.decode(errors="replace") for a in args[3:]])
        except ConfigError as exc:
            raise CommandError(f"ERR {exc}".replace("ERR Error", "ERR Error")) from None
        config.users[name] = user
        return resp.OK
    if sub == b"deluser" and len(args) >= 3:
        count = 0
        for raw in args[2:]:
            name = raw.decode(errors="replace")
            if name == "default":
                raise CommandError("ERR The 'default' user cannot be removed")
            if config.users.pop(name, None) is not None:
                count += 1
                for c in list(client.server.clients.values()):
                    if c.user == name:
                        c.close()
        return resp.integer(count)
    if sub == b"whoami" and len(args) == 2:
        return resp.bulk(client.user.encode())
    if sub == b"list" and len(args) == 2:
        return resp.array([u.describe() for u in config.users.values()])
    if sub == b"users" and len(args) == 2:
        return resp.array(list(config.users))
    if sub == b"getuser" and len(args) == 3:
        user = config.users.get(args[2].decode(errors="replace"))
        if user is None:
            return resp.null_array()
        return resp.array([b"flags", [b"on" if user.enabled else b"off"] + ([b"nopass"] if user.nopass else []),
                           b"passwords", list(user.passwords), b"commands", user.describe().split(" ~*")[0].encode()])
    raise CommandError(f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try ACL HELP.")


@command("latency", -2, "admin noscript loading stale", "admin dangerous")
def latency(client, args):
    return resp.EMPTY_ARRAY if args[1].lower() != b"reset" else resp.ZERO


@command("memory", -2, "readonly", "dangerous")
def memory(client, args):
    if args[1].lower() == b"usage" and len(args) >= 3:
        value = client.db.lookup(args[2])
        return resp.null() if value is None else resp.integer(64 + len(args[2]))
    raise CommandError(f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try MEMORY HELP.")
