"""The asyncio plumbing: client connections, command dispatch, propagation, the cron.

One event loop runs everything, as Redis's single thread does, so a command never interleaves
with another and DEBUG SLEEP freezes the node the way the replication tests expect.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import signal
import time
from typing import Any

from harness.pyredis import resp
from harness.pyredis.commands import COMMANDS, LOOKUP, Blocked, Command, CommandError, load_all
from harness.pyredis.config import Config
from harness.pyredis.keyspace import Database, Keyspace
from harness.pyredis.log import Log
from harness.pyredis.resp import ProtocolError, parse_command, parse_fast

REDIS_VERSION = "7.0.0"
PYREDIS_VERSION = "0.1.0"

_ids = itertools.count(1)

# Commands that run at once inside MULTI instead of being queued.
_MULTI_IMMEDIATE_NAMES = {"exec", "discard", "multi", "watch", "quit", "reset"}
# Commands a replica-link client (the master talking to us) may run without a reply.

def new_replid() -> str:
    return secrets.token_hex(20)


class Client(asyncio.Protocol):
    """One TCP connection; also used for replicas attached to us (after SYNC/PSYNC)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.id = next(_ids)
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.addr = "?:0"
        self.laddr = "?:0"
        self.name = b""
        self.db: Database = server.keyspace.dbs[0]
        self.user = "default"
        self.authenticated = not server.auth_required()
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_error = False
        self.watched: list[tuple[Database, bytes]] = []
        self.dirty_cas = False
        self.blocked = False
        self.closing = False
        self.created = time.time()
        self.last_interaction = time.time()
        self.last_cmd = "NULL"
        self.woff = 0  # replication offset after this client's last write (for WAIT)
        self.replica: Any = None  # ReplicaState when this connection became a replica
        self.is_master_link = False
        self.close_after_reply = False
        self.proto = 2
        self.rewrites: list[list[bytes]] | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transport is not a subclass
        peer = transport.get_extra_info("peername") or ("?", 0)
        sock = transport.get_extra_info("sockname") or ("?", 0)
        self.addr = f"{peer[0]}:{peer[1]}"
        self.laddr = f"{sock[0]}:{sock[1]}"
        self.server.clients[self.id] = self
        self.server.stat_connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.client_gone(self)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.last_interaction = time.time()
        if len(self.buf) > self.server.query_buffer_limit:
            self.server.log.warning(f"Closing client that reached max query buffer length: id={self.id} addr={self.addr}")
            self.close()
            return
        if not self.blocked:
            self.process()

    # --- processing -------------------------------------------------------------------------
    def process(self) -> None:
        buf = self.buf
        pos = 0
        out: list[bytes] = []
        server = self.server
        execute = server.execute
        call = server.call
        lookup = LOOKUP.get
        # The fast splitter needs an immutable copy; skip it while a huge value is still arriving.
        data = bytes(buf) if len(buf) <= 4 << 20 else b""
        resp.STATE.proto = self.proto
        open_gates = server.gates_open(self)
        try:
            while not self.blocked and not self.closing and not self.close_after_reply:
                batch = parse_fast(data, pos) if data else None
                if not batch:
                    # Inline commands, partial or malformed input: the exact parser, one at a time.
                    try:
                        parsed, new_pos = parse_command(buf, pos)
                    except ProtocolError as exc:
                        out.append(resp.error(f"ERR Protocol error: {exc}"))
                        server.log.verbose(f"Protocol error ({exc}) from client: id={self.id} addr={self.addr}")
                        self.close_after_reply = True
                        pos = len(buf)
                        break
                    if parsed is None:
                        break
                    if not parsed:  # an empty line is skipped; from a replica it is a keepalive
                        pos = new_pos
                        if self.replica is not None:
                            self.replica.ack_time = time.time()
                        continue
                    batch = [(parsed, new_pos)]
                for args, end in batch:
                    pos = end
                    cmd = lookup(args[0]) if open_gates else None
                    if cmd is not None and cmd.data_only and (
                        len(args) == cmd.arity if cmd.arity > 0 else len(args) >= -cmd.arity
                    ):
                        # What execute() would do once its refusals are known not to apply.
                        server.stat_commands += 1
                        self.last_cmd = cmd.name
                        reply = call(self, cmd, args)
                    else:
                        reply = execute(self, args)
                        resp.STATE.proto = self.proto
                        open_gates = server.gates_open(self)
                    if reply is None:
                        continue
                    if isinstance(reply, Blocked):
                        self.block(reply)
                        break
                    out.append(reply)
                    if self.close_after_reply:
                        pos = len(buf)
                        break
        finally:
            if pos:
                del buf[:pos]
        if out:
            self.write(b"".join(out))
        if self.close_after_reply:
            self.close()

    def block(self, blocked: Blocked) -> None:
        self.blocked = True

        async def run() -> None:
            try:
                reply = await blocked.awaitable
            except CommandError as exc:
                reply = resp.error(str(exc))
            self.blocked = False
            if self.closing:
                return
            self.write(reply)
            if self.buf:
                self.process()

        asyncio.get_running_loop().create_task(run())

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closing:
            transport.write(data)
            limit = self.server.normal_output_limit
            if limit and self.replica is None and not self.is_master_link and transport.get_write_buffer_size() > limit:
                self.server.log.warning(f"Client {self.describe()} closed for overcoming of output buffer limits.")
                self.kill()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def kill(self) -> None:
        """Drop the connection now, discarding pending output (CLIENT KILL, replica drop)."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def flags(self) -> str:
        f = ""
        if self.is_master_link:
            f += "M"
        if self.replica is not None:
            f += "S"
        if self.multi is not None:
            f += "x"
        if self.blocked:
            f += "b"
        return f or "N"

    def describe(self) -> str:
        now = time.time()
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd=8 name={self.name.decode(errors='replace')} "
            f"age={int(now - self.created)} idle={int(now - self.last_interaction)} flags={self.flags()} "
            f"db={self.db.index} sub=0 psub=0 ssub=0 multi={-1 if self.multi is None else len(self.multi)} "
            f"qbuf={len(self.buf)} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 omem=0 "
            f"tot-mem=0 events=r cmd={self.last_cmd} user={self.user} redir=-1 resp=2"
        )


class Server:
    """State of one node: config, keyspace, clients, replication, persistence counters."""

    def __init__(self, config: Config, log: Log) -> None:
        self.config = config
        self.log = log
        self.keyspace = Keyspace(config.int("databases"))
        self.clients: dict[int, Client] = {}
        self.dirty = 0
        self.stat_commands = 0
        self.stat_connections = 0
        self.stat_rejected = 0
        self.start_time = time.time()
        self.active_expire_enabled = True
        self.loading = False
        self.shutdown_requested: str | None = None
        self.pending_propagate: list[tuple[int, list[bytes]]] = []
        self.call_depth = 0
        self.asyncio_server: asyncio.base_events.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.exit_code = 0
        self.run_id = secrets.token_hex(20)
        self.normal_output_limit = 0
        self.config_file: str | None = None
        self.done = asyncio.Event()
        load_all()
        from harness.pyredis.blocking import BlockingPops
        from harness.pyredis.persistence import Persistence
        from harness.pyredis.replication.master import MasterSide
        from harness.pyredis.replication.replica import ReplicaSide

        self.repl = MasterSide(self)
        self.replica_side = ReplicaSide(self)
        self.blocking = BlockingPops(self)
        self.persistence = Persistence(self)
        self.keyspace.is_replica_applying = lambda: self.replica_side.applying
        self.keyspace.may_expire = lambda: not self.replica_side.is_replica()
        self.keyspace.propagate_expire = self._propagate_expire
        self.query_buffer_limit = config.int("client-query-buffer-limit")
        self.repl.refresh_settings()

    # --- auth ---------------------------------------------------------------------------------
    def auth_required(self) -> bool:
        default = self.config.users["default"]
        return not (default.enabled and default.nopass)

    # --- dispatch -----------------------------------------------------------------------------
    def gates_open(self, client: Client) -> bool:
        """True when none of execute()'s refusals can apply to `client` right now.

        Then a data-only command (Command.data_only) may go straight to call(): nothing it does
        can close a gate, so process() re-asks only after a command that is not data-only.
        """
        return (
            client.authenticated
            and client.multi is None
            and not self.loading
            and self.replica_side.master_host is None
            and not self.repl.min_replicas_active
            and client.user == "default"
            and self.default_unrestricted
        )

    def execute(self, client: Client, args: list[bytes]) -> bytes | Blocked | None:
        """Run one request for `client`; None means "no reply" (replication links)."""
        self.stat_commands += 1
        resp.STATE.proto = client.proto
        cmd = LOOKUP.get(args[0])  # most clients send lower or upper case; both are keys
        if cmd is None:
            cmd = COMMANDS.get(args[0].lower())
            if cmd is None:
                return self._unknown(client, args)
        client.last_cmd = cmd.name
        n = len(args)
        if (cmd.arity > 0 and n != cmd.arity) or n < -cmd.arity:
            if client.multi is not None:
                client.multi_error = True
            return resp.error(f"ERR wrong number of arguments for '{cmd.name}' command")
        if not client.authenticated and cmd.name not in ("auth", "hello", "quit"):
            if client.multi is not None:
                client.multi_error = True
            return resp.error("NOAUTH Authentication required.")
        if client.user != "default" or not self.default_unrestricted:
            user = self.config.users.get(client.user)
            if (
                user is not None
                and not (user.allow_all and not user.denied and not user.denied_categories)
                and client.authenticated
                and not user.can_run(cmd.name, set(cmd.categories))
            ):
                if client.multi is not None:
                    client.multi_error = True
                # Redis 7.0's wording (the version this node reports); 7.2 names the user.
                return resp.error(f"NOPERM this user has no permissions to run the '{cmd.name}' command")
        if client.multi is not None and cmd.name not in _MULTI_IMMEDIATE_NAMES:
            error = self.precheck(client, cmd)
            if error is not None:
                client.multi_error = True
                return error
            client.multi.append((cmd, args))
            return resp.QUEUED
        if self.loading or self.replica_side.master_host is not None or (cmd.is_write and self.repl.min_replicas_active):
            error = self.precheck(client, cmd)
            if error is not None:
                return error
        return self.call(client, cmd, args)

    def _unknown(self, client: Client, args: list[bytes]) -> bytes:
        shown = ""
        for a in args[1:]:
            if len(shown) >= 128:
                break
            piece = a.decode(errors="replace")[: 128 - len(shown)]
            shown += f"'{piece}' "
        if client.multi is not None:
            client.multi_error = True
        return resp.error(f"ERR unknown command '{args[0].decode(errors='replace')[:128]}', with args beginning with: {shown}")

    @property
    def default_unrestricted(self) -> bool:
        user = self.config.users.get("default")
        return user is not None and user.allow_all and not user.denied and not user.denied_categories

    def precheck(self, client: Client, cmd: Command) -> bytes | None:
        """The refusals Redis applies before running a command (LOADING, READONLY, ...)."""
        if not self.loading and self.replica_side.master_host is None and not (cmd.is_write and self.repl.min_replicas_active):
            return None
        if self.loading and "loading" not in cmd.flags:
            return resp.error("LOADING Redis is loading the dataset in memory")
        rs = self.replica_side
        if cmd.is_write and rs.is_replica() and self.config.bool("replica-read-only") and not client.is_master_link:
            return resp.error("READONLY You can't write against a read only replica.")
        if (
            rs.is_replica()
            and rs.state != "connected"
            and not self.config.bool("replica-serve-stale-data")
            and "stale" not in cmd.flags
        ):
            return resp.error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        if cmd.is_write and not rs.is_replica() and not self.repl.enough_good_replicas():
            return resp.error("NOREPLICAS Not enough good replicas to write.")
        return None

    def call(self, client: Client, cmd: Command, args: list[bytes]) -> Any:
        """Run the handler, then propagate its effects (rewritten or verbatim) as one unit."""
        self.call_depth += 1
        dirty_before = self.dirty
        client.rewrites = None
        try:
            reply = cmd.handler(client, args)
        except CommandError as exc:
            reply = resp.error(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one command must not kill the client
            import traceback

            self.log.warning(f"internal error in '{cmd.name}': {exc!r}\n{traceback.format_exc()}")
            reply = resp.error(f"ERR internal error in '{cmd.name}': {type(exc).__name__}")
        finally:
            self.call_depth -= 1
        # Nothing to propagate while there is no backlog (no replica ever attached).
        if cmd.is_write and self.dirty != dirty_before and self.repl.backlog is not None:
            rewrites = client.rewrites
            if rewrites is None:
                self.also_propagate(client.db.index, args)
            else:
                for argv in rewrites:
                    self.also_propagate(client.db.index, argv)
        if self.call_depth == 0:
            if self.pending_propagate:
                self.flush_propagate(client)
            if self.blocking.ready:  # after the command (or the whole EXEC), as Redis does
                self.blocking.serve_ready()
        return reply

    def also_propagate(self, db: int, argv: list[bytes]) -> None:
        self.pending_propagate.append((db, argv))

    def flush_propagate(self, client: Client | None = None) -> None:
        ops = self.pending_propagate
        self.pending_propagate = []
        if self.replica_side.is_replica():
            return  # a replica never relays its own writes
        if len(ops) > 1 and any(argv[0].lower() != b"del" for _, argv in ops):
            ops = [(ops[0][0], [b"MULTI"])] + ops + [(ops[-1][0], [b"EXEC"])]
        for db, argv in ops:
            self.repl.feed(db, argv)
        if client is not None:
            client.woff = self.repl.offset

    def _propagate_expire(self, db: int, key: bytes) -> None:
        if self.repl.backlog is None:
            return
        if self.call_depth > 0:
            self.also_propagate(db, [b"DEL", key])
        else:
            self.repl.feed(db, [b"DEL", key])

    # --- lifecycle ----------------------------------------------------------------------------
    def client_gone(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        if client.blocked:
            self.blocking.client_gone(client)
        for db, key in client.watched:
            watchers = db.watchers.get(key)
            if watchers:
                watchers.discard(client)
                if not watchers:
                    del db.watchers[key]
        client.watched = []
        if client.replica is not None:
            self.repl.replica_gone(client)
        if client.is_master_link:
            self.replica_side.link_lost("connection lost")

    async def serve(self) -> int:
        self.loop = asyncio.get_running_loop()
        port = self.config.int("port")
        binds = self.config.get("bind").split() or ["127.0.0.1"]
        binds = [b.lstrip("-") for b in binds]
        self.log.notice(f"pyredis version={PYREDIS_VERSION}, emulating redis_version={REDIS_VERSION}, pid={os.getpid()}, just started")
        try:
            self.persistence.load_at_start()
        except Exception as exc:  # noqa: BLE001 - any loading failure stops the start
            self.log.warning(f"Fatal error loading the DB: {exc}. Exiting.")
            return 1
        try:
            self.asyncio_server = await self.loop.create_server(
                lambda: Client(self), host=binds, port=port, reuse_address=True, backlog=511
            )
        except OSError as exc:
            self.log.warning(f"Warning: Could not create server TCP listening socket {binds[0]}:{port}: {exc.strerror}")
            self.log.warning(f"Failed listening on port {port} (tcp), aborting.")
            return 1
        self.persistence.write_pidfile()
        for sig, how in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            self.loop.add_signal_handler(sig, self.signal_shutdown, how)
        self.log.notice("Server initialized")
        self.log.notice("Ready to accept connections tcp")
        self.replica_side.start_from_config()
        cron = self.loop.create_task(self.cron())
        await self.done.wait()
        cron.cancel()
        return self.exit_code

    def signal_shutdown(self, name: str) -> None:
        self.log.warning(f"Received {name} scheduling shutdown...")
        self.loop.create_task(self.shutdown(save=None))  # type: ignore[union-attr]

    async def shutdown(self, save: bool | None, now: bool = False) -> bool:
        """Save if asked (or if save rules exist), stop listening, exit the loop.

        Like 7.0, a master first gives lagging replicas up to `shutdown-timeout` seconds to
        acknowledge everything (GETACK), so a clean restart loses no acknowledged write.
        """
        self.log.warning("User requested shutdown...")
        if not now:
            await self._wait_replicas_before_shutdown()
        if save is None:
            save = bool(self.config.save_rules())
        if save:
            self.log.notice("Saving the final RDB snapshot before exiting.")
            try:
                self.persistence.save()
            except OSError as exc:
                self.log.warning(f"Error trying to save the DB, can't exit: {exc}")
                return False
            self.log.notice("DB saved on disk")
        self.persistence.remove_pidfile()
        self.replica_side.stop()
        if self.asyncio_server is not None:
            self.asyncio_server.close()
        for client in list(self.clients.values()):
            client.kill()
        self.log.warning("Redis is now ready to exit, bye bye...")
        self.done.set()
        return True

    async def _wait_replicas_before_shutdown(self) -> None:
        repl = self.repl
        timeout = self.config.int("shutdown-timeout")
        online = repl.online_replicas()
        if self.replica_side.is_replica() or not online or timeout <= 0:
            return
        if all(c.replica.ack_off == repl.offset for c in online):
            self.log.notice(f"{len(online)} of {len(online)} replicas are in sync when shutting down.")
            return
        self.log.notice("Waiting for replicas before shutting down.")
        repl.feed_raw(b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n")
        deadline = time.time() + timeout
        while time.time() < deadline:
            online = repl.online_replicas()
            if all(c.replica.ack_off >= repl.offset for c in online):
                break
            await asyncio.sleep(0.05)
        online = repl.online_replicas()
        synced = [c for c in online if c.replica.ack_off >= repl.offset]
        for c in online:
            if c not in synced:
                self.log.warning(f"Lagging replica {c.addr} reported offset {c.replica.ack_off} behind master, lag={int(time.time() - c.replica.ack_time)}, state={c.replica.state}.")
        self.log.notice(f"{len(synced)} of {len(online)} replicas are in sync when shutting down.")

    async def cron(self) -> None:
        """10 Hz housekeeping: active expiry, replication timers, save rules."""
        while True:
            await asyncio.sleep(0.1)
            try:
                if self.active_expire_enabled and not self.replica_side.is_replica() and not self.loading:
                    for db in self.keyspace.dbs:
                        if db.heap:
                            db.active_expire(2000)
                elif self.replica_side.is_replica():
                    for db in self.keyspace.dbs:
                        if db.replica_own:
                            db.expire_replica_own()
                self.repl.cron()
                self.replica_side.cron()
                self.persistence.cron()
            except Exception as exc:  # noqa: BLE001 - the cron must never die
                self.log.warning(f"cron error: {exc!r}")
