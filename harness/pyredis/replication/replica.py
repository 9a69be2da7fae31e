"""Replica side: the link to our master (handshake, PSYNC, RDB transfer, stream apply).

The byte-level rules (wire-and-rdb.md §1) are followed exactly: never announce
`rdb-channel-repl`, skip keep-alive newlines, ACK at once after an EOF-marked payload, advance
the offset by each applied command's exact length, and answer GETACK with the offset *before*
the GETACK itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from harness.pyredis import resp
from harness.pyredis.commands import COMMANDS, CommandError
from harness.pyredis.resp import ProtocolError, parse_command, parse_fast

if TYPE_CHECKING:
    from harness.pyredis.server import Client, Server


class LinkError(Exception):
    """This attempt failed; the message is what Redis would log. Retry later."""


class ReplicaSide:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.master_host: str | None = None
        self.master_port = 0
        self.state = "none"  # connect | connecting | handshake | sync | connected
        self.task: asyncio.Task | None = None
        self.link_client: Client | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.applying = False
        self.cached: tuple[str, int, int] | None = None  # (replid, offset, db)
        self.down_since: float | None = None  # None = never up since REPLICAOF
        self.last_io = 0.0
        self.read_offset = 0
        self.last_ack = 0.0
        self.reconnect_now = False
        self.sync_total = -1
        self.sync_read = 0
        self.unapplied = 0  # stream bytes read but not applied yet (slave_read_repl_offset - slave_repl_offset)

    def is_replica(self) -> bool:
        return self.master_host is not None

    # --- configuration ------------------------------------------------------------------------
    def start_from_config(self) -> None:
        target = self.server.config.replicaof()
        if target is not None:
            self.set_master(target[0], target[1], from_config=True)

    def set_master(self, host: str, port: int, from_config: bool = False, who: str = "") -> None:
        server = self.server
        repl = server.repl
        was_master = not self.is_replica()
        self.stop()
        if was_master and not from_config:
            server.log.notice(
                "Before turning into a replica, using my own master parameters to synthesize a cached "
                "master: I may be able to synchronize with the new master with just a partial transfer."
            )
            self.cached = (repl.replid, repl.offset, 0)
        elif from_config and self.cached is None and repl.backlog is not None:
            self.cached = (repl.replid, repl.offset, 0)
        if not from_config:
            from harness.pyredis.blocking import UNBLOCKED_BY_ROLE_CHANGE

            server.blocking.release_all(UNBLOCKED_BY_ROLE_CHANGE)  # clients blocked on a master, now replica
        self.master_host = host
        self.master_port = port
        self.down_since = None
        self.state = "connect"
        server.log.role_char = "S"
        if not from_config:
            server.log.notice(f"REPLICAOF {host}:{port} enabled (user request from '{who}')")
        self.task = asyncio.get_running_loop().create_task(self.run())

    def unset_master(self, who: str = "") -> None:
        if not self.is_replica():
            return
        server = self.server
        self.stop()
        self.master_host = None
        self.master_port = 0
        self.state = "none"
        self.cached = None
        repl = server.repl
        repl.shift_replid()
        repl.disconnect_replicas()
        repl.slaveseldb = -1
        if repl.backlog is None:
            repl.create_backlog()
        server.log.role_char = "M"
        server.log.notice(f"MASTER MODE enabled (user request from '{who}')")

    def stop(self) -> None:
        """Cancel the link task (caching the master if the link was up)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        self._close_link(cache=True)

    def drop_link(self, why: str) -> None:
        """CLIENT KILL TYPE master / timeouts: close the link; the task reconnects."""
        if self.writer is not None:
            self.writer.transport.abort()

    def link_lost(self, why: str) -> None:
        self.drop_link(why)

    def _close_link(self, cache: bool) -> None:
        link = self.link_client
        if link is not None:
            if cache and self.state == "connected":
                self.cached = (self.server.repl.replid, self.server.repl.offset, link.db.index)
                self.server.log.notice("Caching the disconnected master state.")
            self.server.clients.pop(link.id, None)
            self.link_client = None
        if self.writer is not None:
            self.writer.transport.abort()
            self.writer = None
        if self.state == "connected":
            self.down_since = time.time()
        if self.is_replica():
            self.state = "connect"

    # --- the link task ------------------------------------------------------------------------
    async def run(self) -> None:
        log = self.server.log
        first = True
        while self.is_replica():
            if not first and not self.reconnect_now:
                await asyncio.sleep(1)
            first = False
            self.reconnect_now = False
            was_connected = False
            try:
                was_connected = await self._attempt()
            except asyncio.CancelledError:
                raise
            except LinkError as exc:
                if str(exc):
                    log.warning(str(exc))
            except TimeoutError:
                if self.state == "connected":
                    log.warning("MASTER timeout: no data nor PING received...")
                    was_connected = True
                elif self.state == "sync":
                    log.warning(
                        "Timeout receiving bulk data from MASTER... If the problem persists try to set the "
                        "'repl-timeout' parameter in redis.conf to a larger value."
                    )
                else:
                    log.warning("Timeout connecting to the MASTER...")
            except (OSError, asyncio.IncompleteReadError, ConnectionError) as exc:
                if self.state == "connected":
                    log.notice("Connection with master lost.")
                    was_connected = True
                else:
                    log.warning(f"Error condition on socket for SYNC: {exc or 'Connection lost'}")
            self._close_link(cache=True)
            if was_connected and self.is_replica():
                self.reconnect_now = True
                log.notice(f"Reconnecting to MASTER {self.master_host}:{self.master_port}")

    async def _readline(self, reader: asyncio.StreamReader, skip_newlines: bool = True) -> bytes:
        timeout = self.server.config.int("repl-timeout")
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                raise ConnectionError("Connection lost")
            self.last_io = time.time()
            if line in (b"\n", b"\r\n") and skip_newlines:
                continue
            return line.rstrip(b"\r\n")

    async def _attempt(self) -> bool:
        server = self.server
        log = server.log
        config = server.config
        repl = server.repl
        host, port = self.master_host, self.master_port
        self.state = "connecting"
        log.notice(f"Connecting to MASTER {host}:{port}")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=2**20), config.int("repl-timeout")
        )
        self.writer = writer
        log.notice("MASTER <-> REPLICA sync started")
        self.state = "handshake"
        writer.write(b"*1\r\n$4\r\nPING\r\n")
        reply = await self._readline(reader)
        if not (reply.startswith(b"+") or reply.startswith((b"-NOAUTH", b"-NOPERM", b"-ERR operation not permitted"))):
            raise LinkError(f"Error reply to PING from master: '{reply.decode(errors='replace')}'")
        log.notice("Master replied to PING, replication can continue...")
        out = []
        auth = config.get("masterauth")
        user = config.get("masteruser")
        if auth:
            out.append(resp.command([b"AUTH", user.encode(), auth.encode()] if user else [b"AUTH", auth.encode()]))
        announce = config.int("replica-announce-port") or config.int("port")
        out.append(resp.command([b"REPLCONF", b"listening-port", b"%d" % announce]))
        announce_ip = config.get("replica-announce-ip")
        if announce_ip:
            out.append(resp.command([b"REPLCONF", b"ip-address", announce_ip.encode()]))
        out.append(resp.command([b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]))
        writer.write(b"".join(out))
        if auth:
            reply = await self._readline(reader)
            if reply.startswith(b"-"):
                raise LinkError(f"Unable to AUTH to MASTER: {reply.decode(errors='replace')}")
        reply = await self._readline(reader)
        if reply.startswith(b"-"):
            log.notice(f"(Non critical) Master does not understand REPLCONF listening-port: {reply.decode(errors='replace')}")
        if announce_ip:
            reply = await self._readline(reader)
            if reply.startswith(b"-"):
                log.notice(f"(Non critical) Master does not understand REPLCONF ip-address: {reply.decode(errors='replace')}")
        reply = await self._readline(reader)
        if reply.startswith(b"-"):
            log.notice(f"(Non critical) Master does not understand REPLCONF capa: {reply.decode(errors='replace')}")
        # PSYNC
        if self.cached is not None:
            psync_id, psync_off = self.cached[0], self.cached[1] + 1
            log.notice(f"Trying a partial resynchronization (request {psync_id}:{psync_off}).")
        else:
            psync_id, psync_off = "?", -1
            log.notice("Partial resynchronization not possible (no cached master)")
        writer.write(resp.command([b"PSYNC", psync_id.encode(), b"%d" % psync_off]))
        reply = await self._readline(reader)
        text = reply.decode(errors="replace")
        if reply.startswith(b"+FULLRESYNC"):
            parts = text.split()
            if len(parts) < 3 or len(parts[1]) != 40:
                raise LinkError(f"Master replied with wrong +FULLRESYNC syntax: {text}")
            new_id, new_off = parts[1], int(parts[2])
            log.notice(f"Full resync from master: {new_id}:{new_off}")
            await self._full_sync(reader, writer, new_id, new_off)
        elif reply.startswith(b"+CONTINUE"):
            parts = text.split()
            log.notice("Successful partial resynchronization with master.")
            assert self.cached is not None
            cached_id, cached_off, cached_db = self.cached
            if len(parts) > 1 and parts[1] != cached_id:
                new_id = parts[1]
                repl.replid2 = cached_id
                repl.second_offset = cached_off + 1
                repl.replid = new_id
                log.notice(f"Master replication ID changed to {new_id}")
                repl.disconnect_replicas()
            elif repl.replid != cached_id:
                repl.replid = cached_id
            repl.offset = cached_off
            if repl.backlog is None:
                repl.create_backlog()
            self._make_link_client(writer, cached_db)
            self.cached = None
            log.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
        elif reply.startswith((b"-NOMASTERLINK", b"-LOADING")):
            raise LinkError(f"Master is currently unable to PSYNC but should be in the future: {text}")
        else:
            if reply.startswith(b"-ERR"):
                log.warning(f"Master does not support PSYNC or is in error state (reply: {text})")
            else:
                log.warning(f"Unexpected reply to PSYNC from master: {text}")
            log.notice("Retrying with SYNC...")
            writer.write(b"SYNC\r\n")
            await self._full_sync(reader, writer, None, 0)
        self.state = "connected"
        self.last_io = time.time()
        await self._stream(reader)
        return True

    def _make_link_client(self, writer: asyncio.StreamWriter, db: int) -> None:
        from harness.pyredis.server import Client

        self.unapplied = 0
        link = Client(self.server)
        link.transport = writer.transport  # type: ignore[assignment]
        peer = writer.get_extra_info("peername") or ("?", 0)
        sock = writer.get_extra_info("sockname") or ("?", 0)
        link.addr = f"{peer[0]}:{peer[1]}"
        link.laddr = f"{sock[0]}:{sock[1]}"
        link.is_master_link = True
        link.authenticated = True
        link.db = self.server.keyspace.dbs[db if 0 <= db < len(self.server.keyspace.dbs) else 0]
        self.server.clients[link.id] = link
        self.link_client = link

    async def _full_sync(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         new_id: str | None, new_off: int) -> None:
        server = self.server
        log = server.log
        repl = server.repl
        timeout = server.config.int("repl-timeout")
        self.state = "sync"
        self.sync_total = -1
        self.sync_read = 0
        line = await self._readline(reader)
        if line.startswith(b"-"):
            raise LinkError(f"MASTER aborted replication with an error: {line[1:].decode(errors='replace')}")
        if not line.startswith(b"$"):
            raise LinkError(
                f"Bad protocol from MASTER, the first byte is not '$' (we received '{line[:64].decode(errors='replace')}'), "
                "are you sure the host and port are right?"
            )
        eof_mark: bytes | None = None
        if line.startswith(b"$EOF:") and len(line) >= 45:
            eof_mark = line[5:45]
            self.sync_total = 0
            log.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk")
            chunks = bytearray()
            while True:
                data = await asyncio.wait_for(reader.read(1 << 20), timeout)
                if not data:
                    raise ConnectionError("I/O error trying to sync with MASTER: connection lost")
                self.last_io = time.time()
                chunks += data
                self.sync_read = len(chunks)
                if chunks.endswith(eof_mark):
                    break
            payload = bytes(chunks[:-40])
        else:
            try:
                size = int(line[1:])
            except ValueError:
                raise LinkError(f"Bad protocol from MASTER: {line[:64]!r}") from None
            self.sync_total = size
            log.notice(f"MASTER <-> REPLICA sync: receiving {size} bytes from master to disk")
            chunks = bytearray()
            while len(chunks) < size:
                data = await asyncio.wait_for(reader.read(min(1 << 20, size - len(chunks))), timeout)
                if not data:
                    raise ConnectionError("I/O error trying to sync with MASTER: connection lost")
                self.last_io = time.time()
                chunks += data
                self.sync_read = len(chunks)
            payload = bytes(chunks)
        from harness.pyredis import rdb

        loop = asyncio.get_running_loop()
        # Clients get -LOADING while the snapshot is parsed and swapped in, as on Redis.
        server.loading = True
        try:
            contents = await loop.run_in_executor(None, rdb.load_rdb, payload)
        except rdb.RdbError as exc:
            server.loading = False
            raise LinkError(f"Failed trying to load the MASTER synchronization DB from disk: {exc}") from None
        except BaseException:
            server.loading = False
            raise
        server.loading = False
        if new_id is None:
            aux_id = contents.aux.get("repl-id")
            new_id = aux_id.decode() if aux_id and len(aux_id) == 40 else repl.replid
        log.notice("Discarding previously cached master state.")
        self.cached = None
        # Sub-replicas must full-sync from the new history (7.0 drops them when loading starts).
        repl.disconnect_replicas()
        log.notice("MASTER <-> REPLICA sync: Flushing old data")
        log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        server.keyspace.replace(contents.dbs)
        server.dirty = 0
        server.persistence.write_transfer(payload)
        nkeys = sum(len(k) for k in contents.dbs.values())
        log.notice(f"Done loading RDB, keys loaded: {nkeys}, keys expired: 0.")
        repl.replid = new_id
        repl.clear_replid2()
        repl.offset = new_off
        repl.backlog = None
        repl.create_backlog()
        repl.slaveseldb = -1
        stream_db = contents.aux.get("repl-stream-db", b"0")
        try:
            db = int(stream_db)
        except ValueError:
            db = 0
        self._make_link_client(writer, db)
        if eof_mark is not None:
            self.send_ack()
        log.notice("MASTER <-> REPLICA sync: Finished with success")

    async def _stream(self, reader: asyncio.StreamReader) -> None:
        server = self.server
        repl = server.repl
        buf = bytearray()
        link = self.link_client
        assert link is not None
        self.send_ack()
        while True:
            data = await asyncio.wait_for(reader.read(1 << 18), server.config.int("repl-timeout"))
            if not data:
                raise ConnectionError("Connection lost")
            now = time.time()
            self.last_io = now
            self.read_offset += len(data)
            buf += data
            pos = 0
            committed = 0
            pending = 0
            data = bytes(buf) if len(buf) <= 4 << 20 else b""
            while True:
                items = parse_fast(data, pos) if data else None
                if not items:
                    try:
                        args, new_pos = parse_command(buf, pos)
                    except ProtocolError as exc:
                        server.log.warning(f"Protocol error from MASTER: {exc}")
                        raise ConnectionError("protocol error") from None
                    if args is None:
                        break
                    items = [(args, new_pos)]
                for args, new_pos in items:
                    pending += new_pos - pos
                    pos = new_pos
                    if args:
                        self.apply(link, args)
                        if self.link_client is not link:
                            return
                    if link.multi is None:
                        repl.offset += pending
                        pending = 0
                        committed = pos
            if committed:
                chunk = bytes(buf[:committed])
                if repl.backlog is not None:
                    repl.backlog.append(chunk)
                repl.send_to_replicas(chunk)
                del buf[:committed]
            self.unapplied = len(buf)
            if now - self.last_ack >= 1:
                self.send_ack()

    def apply(self, link: Client, args: list[bytes]) -> None:
        """Execute one command from the master: no reply, except ACK for GETACK."""
        server = self.server
        name = args[0].lower()
        if name == b"replconf":
            if len(args) >= 2 and args[1].lower() == b"getack":
                self.send_ack()
            return
        if name == b"ping":
            return
        if name == b"multi":
            link.multi = []
            return
        if name == b"discard":
            link.multi = None
            return
        cmd = COMMANDS.get(name)
        if name == b"exec":
            queued = link.multi or []
            link.multi = None
            self.applying = True
            server.call_depth += 1
            try:
                for qcmd, qargs in queued:
                    self._call(link, qcmd, qargs)
            finally:
                server.call_depth -= 1
                self.applying = False
                server.pending_propagate = []
            return
        if cmd is None:
            server.log.warning(
                f"== CRITICAL == This replica is sending an error to its master: 'unknown command "
                f"'{args[0].decode(errors='replace')}'' after processing the command '<unknown>'"
            )
            return
        if link.multi is not None:
            link.multi.append((cmd, args))
            return
        self.applying = True
        try:
            self._call(link, cmd, args)
        finally:
            self.applying = False
            server.pending_propagate = []

    def _call(self, link: Client, cmd, args: list[bytes]) -> None:
        try:
            reply = self.server.call(link, cmd, args)
        except CommandError as exc:
            reply = resp.error(str(exc))
        if isinstance(reply, bytes) and reply.startswith(b"-"):
            self.server.log.warning(
                f"== CRITICAL == This replica is sending an error to its master: "
                f"'{reply[1:-2].decode(errors='replace')}' after processing the command '{cmd.name}'"
            )

    def send_ack(self) -> None:
        if self.writer is None or self.link_client is None:
            return
        self.last_ack = time.time()
        off = b"%d" % self.server.repl.offset
        self.writer.write(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n" % (len(off), off))

    def cron(self) -> None:
        if self.state == "connected" and time.time() - self.last_ack >= 1:
            self.send_ack()

    # --- introspection ------------------------------------------------------------------------
    def role_reply(self) -> list:
        offset = self.server.repl.offset if self.state == "connected" else -1
        return [b"slave", (self.master_host or "").encode(), self.master_port, self.state.encode(), offset]

    def info_lines(self) -> list[str]:
        now = time.time()
        up = self.state == "connected"
        lines = [
            f"master_host:{self.master_host}",
            f"master_port:{self.master_port}",
            f"master_link_status:{'up' if up else 'down'}",
            f"master_last_io_seconds_ago:{int(now - self.last_io) if self.link_client is not None else -1}",
            f"master_sync_in_progress:{1 if self.state == 'sync' else 0}",
        ]
        has_master = self.link_client is not None or self.cached is not None
        offset = self.server.repl.offset if has_master else 1
        unapplied = self.unapplied if self.link_client is not None else 0
        lines.append(f"slave_read_repl_offset:{offset + unapplied if has_master else offset}")
        lines.append(f"slave_repl_offset:{offset}")
        if self.state == "sync":
            lines += [
                f"master_sync_total_bytes:{self.sync_total}",
                f"master_sync_read_bytes:{self.sync_read}",
                f"master_sync_left_bytes:{max(self.sync_total - self.sync_read, 0) if self.sync_total > 0 else 0}",
                "master_sync_perc:0.00",
                f"master_sync_last_io_seconds_ago:{int(now - self.last_io)}",
            ]
        if not up:
            since = -1 if self.down_since is None else int(now - self.down_since)
            lines.append(f"master_link_down_since_seconds:{since}")
        lines += [
            f"slave_priority:{self.server.config.get('replica-priority')}",
            f"slave_read_only:{1 if self.server.config.bool('replica-read-only') else 0}",
            "replica_announced:1",
        ]
        return lines
