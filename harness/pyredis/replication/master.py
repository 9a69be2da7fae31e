"""Master side of replication: PSYNC decisions, full syncs, the stream, ACKs, WAIT.

Offsets, replids and counters follow Redis 7.0 exactly (replication.md §2, §5, §6) because
the harness classifies every resync by `sync_full` / `sync_partial_ok` / `sync_partial_err`
and compares `master_repl_offset` byte for byte with real replicas.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import TYPE_CHECKING, Any

from harness.pyredis import resp
from harness.pyredis.replication.backlog import Backlog

if TYPE_CHECKING:
    from harness.pyredis.server import Client, Server

ZERO_ID = "0" * 40
PING = b"*1\r\n$4\r\nping\r\n"
GETACK = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"


class ReplicaState:
    """What the master knows about one attached replica connection."""

    def __init__(self) -> None:
        self.state = "wait_bgsave"  # wait_bgsave | send_bulk | online
        self.buffer: list[bytes] | None = []  # stream bytes held until the replica can take them
        self.wait_ack = False  # diskless: stream only after the first ACK
        self.ack_off = 0
        self.ack_time = time.time()
        self.listening_port = 0
        self.ip: str | None = None
        self.capa: set[str] = set()
        self.pre_psync = False
        self.last_newline = time.time()
        self.buffered = 0
        self.soft_since: float | None = None
        self.out: list[bytes] = []  # stream bytes for an online replica, written once per loop turn
        self.out_bytes = 0


class MasterSide:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.replid = secrets.token_hex(20)
        self.replid2 = ZERO_ID
        self.second_offset = -1
        self.offset = 0
        self.backlog: Backlog | None = None
        self.slaveseldb = -1
        self.replicas: list[Client] = []
        self.sync_full = 0
        self.sync_partial_ok = 0
        self.sync_partial_err = 0
        self.last_ping = time.time()
        self.no_replicas_since = time.time()
        self.waiters: list[tuple[int, int, asyncio.Future]] = []
        self.getack_pending = False
        self.net_output_bytes = 0
        self.min_replicas_active = False
        self.flush_scheduled = False
        self.refresh_settings()

    def refresh_settings(self) -> None:
        """Cache what the per-write check needs, so the hot path reads no config strings."""
        config = self.server.config
        from harness.pyredis.config import output_limits

        limits = output_limits(config.get("client-output-buffer-limit"))
        self.replica_limits = limits.get("replica", (0, 0, 0))
        # Normal clients: only the hard limit is enforced (Redis's default is no limit at all).
        self.server.normal_output_limit = limits.get("normal", (0, 0, 0))[0]
        self.min_replicas_active = config.int("min-replicas-to-write") > 0 and config.int("min-replicas-max-lag") > 0

    # --- ids ----------------------------------------------------------------------------------
    def change_replid(self) -> None:
        self.replid = secrets.token_hex(20)

    def clear_replid2(self) -> None:
        self.replid2 = ZERO_ID
        self.second_offset = -1

    def shift_replid(self) -> None:
        self.replid2 = self.replid
        self.second_offset = self.offset + 1
        self.change_replid()
        self.server.log.notice(
            f"Setting secondary replication ID to {self.replid2}, valid up to offset: {self.second_offset}. "
            f"New replication ID is {self.replid}"
        )

    def create_backlog(self) -> None:
        self.backlog = Backlog(self.server.config.int("repl-backlog-size"), self.offset)

    # --- the stream ---------------------------------------------------------------------------
    def feed(self, db: int, argv: list[bytes]) -> None:
        if self.backlog is None:
            return
        if db != self.slaveseldb and db >= 0:
            dbs = b"%d" % db
            self.feed_raw(b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(dbs), dbs))
            self.slaveseldb = db
        self.feed_raw(resp.command(argv))

    def feed_raw(self, data: bytes, count: bool = True) -> None:
        """Append to the backlog and send to every replica (the bytes count for offsets)."""
        if self.backlog is None:
            return
        if count:
            self.offset += len(data)
        self.backlog.append(data)
        self.send_to_replicas(data)

    def send_to_replicas(self, data: bytes) -> None:
        """Queue stream bytes for every replica.

        Online replicas get them in one write per event-loop turn (like Redis's writes in
        beforeSleep) instead of one send() per command; replicas still syncing hold them in
        their own buffer. All stream bytes take this path, so their order is kept.
        """
        for client in self.replicas:
            st = client.replica
            if st.buffer is not None:
                st.buffer.append(data)
                st.buffered += len(data)
            else:
                st.out.append(data)
                st.out_bytes += len(data)
        if not self.flush_scheduled and self.replicas:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_replicas)

    def flush_replicas(self) -> None:
        self.flush_scheduled = False
        hard = self.replica_limits[0]
        over = []
        for client in self.replicas:
            st = client.replica
            if st.out:
                data = b"".join(st.out)
                st.out = []
                st.out_bytes = 0
                client.write(data)
                self.net_output_bytes += len(data)
            if st.buffer is not None:
                pending = st.buffered
            else:
                pending = client.transport.get_write_buffer_size() if client.transport is not None else 0
            if hard and pending > hard:
                over.append(client)
            elif self.replica_limits[1] and pending > self.replica_limits[1]:
                if st.soft_since is None:
                    st.soft_since = time.time()
            else:
                st.soft_since = None
        for client in over:
            self.drop_for_output_limit(client)

    def drop_for_output_limit(self, client: Client) -> None:
        self.server.log.warning(
            f"Client {client.describe()} closed for overcoming of output buffer limits."
        )
        client.kill()
        self.replica_gone(client)

    # --- PSYNC / SYNC -------------------------------------------------------------------------
    def handle_sync(self, client: Client, args: list[bytes]) -> Any:
        server = self.server
        log = server.log
        if client.replica is not None:
            return None  # a second SYNC on a replica link is ignored, as Redis does
        rs = server.replica_side
        if rs.is_replica() and rs.state != "connected":
            return resp.error("NOMASTERLINK Can't SYNC while not connected with my master")
        name = f"{client.addr.split(':')[0]}:{getattr(client, 'announced_port', 0)}"
        is_psync = args[0].lower() == b"psync"
        if is_psync:
            if len(args) < 3:
                return resp.error("ERR wrong number of arguments for 'psync' command")
            req_id = args[1].decode(errors="replace")
            try:
                req_off = int(args[2])
            except ValueError:
                log.notice(f"Replica {name} asks for synchronization but with a wrong offset")
                return resp.error("ERR value is not an integer or out of range")
            if self.try_partial(client, req_id, req_off, name):
                self.sync_partial_ok += 1
                return None
            if req_id != "?":
                self.sync_partial_err += 1
        else:
            log.notice(f"Replica {name} asks for synchronization")
        self.sync_full += 1
        st = self._attach(client)
        st.pre_psync = not is_psync
        if self.backlog is None:
            self.change_replid()
            self.clear_replid2()
            self.create_backlog()
            log.notice(f"Replication backlog created, my new replication IDs are '{self.replid}' and '{self.replid2}'")
        asyncio.get_running_loop().create_task(self._full_sync(client, st, is_psync))
        return None

    def _attach(self, client: Client) -> ReplicaState:
        st = ReplicaState()
        st.listening_port = getattr(client, "announced_port", 0)
        st.ip = getattr(client, "announced_ip", None)
        st.capa = getattr(client, "capa", set())
        client.replica = st
        self.replicas.append(client)
        return st

    def try_partial(self, client: Client, req_id: str, req_off: int, name: str) -> bool:
        log = self.server.log
        if req_id != self.replid:
            if req_id != self.replid2 or req_off > self.second_offset:
                if req_id == "?":
                    log.notice(f"Full resync requested by replica {name}")
                elif req_id != self.replid2:
                    log.notice(
                        f"Partial resynchronization not accepted: Replication ID mismatch (Replica asked for "
                        f"'{req_id}', my replication IDs are '{self.replid}' and '{self.replid2}')"
                    )
                else:
                    log.notice(
                        f"Partial resynchronization not accepted: Requested offset for second ID was {req_off}, "
                        f"but I can reply up to {self.second_offset}"
                    )
                return False
        if self.backlog is None or not self.backlog.covers(req_off):
            log.notice(f"Unable to partial resync with replica {name} for lack of backlog (Replica request was: {req_off}).")
            if req_off > self.offset:
                log.warning(f"Warning: replica {name} tried to PSYNC with an offset that is greater than the master replication offset.")
            return False
        st = self._attach(client)
        st.state = "online"
        st.buffer = None
        st.ack_time = time.time()
        data = self.backlog.since(req_off)
        if "psync2" in st.capa:
            client.write(b"+CONTINUE %s\r\n" % self.replid.encode())
        else:
            client.write(b"+CONTINUE\r\n")
        if data:
            client.write(data)
        log.notice(
            f"Partial resynchronization request from {name} accepted. Sending {len(data)} bytes of backlog "
            f"starting from offset {req_off}."
        )
        return True

    async def _full_sync(self, client: Client, st: ReplicaState, is_psync: bool) -> None:
        server = self.server
        log = server.log
        config = server.config
        diskless = config.bool("repl-diskless-sync") and "eof" in st.capa
        name = f"{client.addr.split(':')[0]}:{st.listening_port}"
        if diskless:
            delay = config.int("repl-diskless-sync-delay")
            if delay > 0:
                log.notice("Delay next BGSAVE for diskless SYNC")
                deadline = time.time() + delay
                while time.time() < deadline:
                    if client.closing:
                        return
                    await asyncio.sleep(min(0.1, deadline - time.time()))
        if client.closing:
            return
        log.notice(f"Starting BGSAVE for SYNC with target: {'replicas sockets' if diskless else 'disk'}")
        snapshot = server.keyspace.snapshot()
        offset = self.offset
        aux = self.rdb_aux()
        self.slaveseldb = -1
        st.buffer = []
        if is_psync:
            client.write(b"+FULLRESYNC %s %d\r\n" % (self.replid.encode(), offset))
        log.notice(f"Starting full sync with replica {name} at offset {offset}")
        loop = asyncio.get_running_loop()
        from harness.pyredis import rdb

        try:
            payload = await loop.run_in_executor(None, lambda: rdb.dump_rdb(snapshot, aux=aux))
        except Exception as exc:  # noqa: BLE001
            log.warning(f"Background saving error: {exc}")
            client.write(b"-ERR BGSAVE failed, replication can't continue\r\n")
            client.kill()
            return
        if client.closing:
            return
        if diskless:
            mark = secrets.token_hex(20).encode()
            client.write(b"$EOF:" + mark + b"\r\n")
            client.write(payload)
            client.write(mark)
            if not await self._drained(client):
                return
            st.state = "online"
            st.wait_ack = True
            log.notice(
                f"Streamed RDB transfer with replica {name} succeeded (socket). Waiting for REPLCONF ACK from replica to enable streaming"
            )
        else:
            st.state = "send_bulk"
            client.write(b"$%d\r\n" % len(payload))
            client.write(payload)
            # The snapshot is not part of the output buffer limit: go online once it left.
            if not await self._drained(client):
                return
            self._go_online(client, st)
            log.notice(f"Synchronization with replica {name} succeeded")
        self.net_output_bytes += len(payload)
        st.ack_time = time.time()

    async def _drained(self, client: Client) -> bool:
        """Wait until the socket took everything written so far; False if the replica went away."""
        while client.transport is not None and not client.closing and client.transport.get_write_buffer_size() > 0:
            await asyncio.sleep(0.005)
        return not client.closing

    def _go_online(self, client: Client, st: ReplicaState) -> None:
        st.state = "online"
        st.wait_ack = False
        pending = st.buffer or []
        st.buffer = None
        st.buffered = 0
        if pending:
            data = b"".join(pending)
            client.write(data)
            self.net_output_bytes += len(data)
        st.ack_time = time.time()

    def rdb_aux(self) -> dict[str, bytes | int | str]:
        rs = self.server.replica_side
        db = self.slaveseldb if self.slaveseldb >= 0 else 0
        if rs.is_replica() and rs.link_client is not None:
            db = rs.link_client.db.index
        return {"repl-stream-db": db, "repl-id": self.replid, "repl-offset": self.offset}

    # --- REPLCONF -----------------------------------------------------------------------------
    def replconf(self, client: Client, args: list[bytes]) -> bytes | None:
        if len(args) % 2 == 0:
            return resp.error("ERR syntax error")
        for i in range(1, len(args), 2):
            opt = args[i].lower()
            val = args[i + 1]
            if opt == b"listening-port":
                try:
                    client.announced_port = int(val)  # type: ignore[attr-defined]
                except ValueError:
                    return resp.error("ERR value is not an integer or out of range")
            elif opt == b"ip-address":
                client.announced_ip = val.decode(errors="replace")  # type: ignore[attr-defined]
            elif opt == b"capa":
                caps: set[str] = getattr(client, "capa", set())
                caps.add(val.decode(errors="replace").lower())
                client.capa = caps  # type: ignore[attr-defined]
            elif opt == b"ack":
                st = client.replica
                if st is None:
                    return None
                try:
                    off = int(val)
                except ValueError:
                    return None
                st.ack_off = max(st.ack_off, off)
                st.ack_time = time.time()
                if st.wait_ack and st.state == "online":
                    self._go_online(client, st)
                self.check_waiters()
                return None
            elif opt == b"getack":
                return None
            elif opt in (b"rdb-only", b"rdb-filter-only", b"rdb-channel", b"main-ch-client-id"):
                pass
            else:
                return resp.error(f"ERR Unrecognized REPLCONF option: {args[i].decode(errors='replace')}")
        return resp.OK

    # --- bookkeeping --------------------------------------------------------------------------
    def replica_gone(self, client: Client) -> None:
        if client in self.replicas:
            self.replicas.remove(client)
            st = client.replica
            self.server.log.notice(
                f"Connection with replica {client.addr.split(':')[0]}:{st.listening_port} lost."
            )
            if not self.replicas:
                self.no_replicas_since = time.time()

    def disconnect_replicas(self) -> None:
        for client in list(self.replicas):
            client.kill()
            self.replica_gone(client)

    def online_replicas(self) -> list[Client]:
        return [c for c in self.replicas if c.replica.state == "online"]

    def enough_good_replicas(self) -> bool:
        config = self.server.config
        need = config.int("min-replicas-to-write")
        lag = config.int("min-replicas-max-lag")
        if need <= 0 or lag <= 0:
            return True
        return self.good_replicas() >= need

    def good_replicas(self) -> int:
        lag = self.server.config.int("min-replicas-max-lag")
        now = time.time()
        return sum(1 for c in self.online_replicas() if now - c.replica.ack_time <= lag)

    def count_acked(self, target: int) -> int:
        return sum(1 for c in self.online_replicas() if c.replica.ack_off >= target)

    async def wait(self, client: Client, numreplicas: int, timeout_ms: int) -> bytes:
        target = client.woff
        acked = self.count_acked(target)
        if acked >= numreplicas or client.multi is not None:
            return resp.integer(acked)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        entry = (target, numreplicas, future)
        self.waiters.append(entry)
        self.request_acks()
        try:
            if timeout_ms > 0:
                await asyncio.wait_for(asyncio.shield(future), timeout_ms / 1000)
            else:
                await future
        except TimeoutError:
            pass
        finally:
            if entry in self.waiters:
                self.waiters.remove(entry)
        return resp.integer(self.count_acked(target))

    def request_acks(self) -> None:
        if self.getack_pending:
            return
        self.getack_pending = True

        def send() -> None:
            self.getack_pending = False
            if self.replicas and not self.server.replica_side.is_replica():
                self.feed_raw(GETACK)

        asyncio.get_running_loop().call_soon(send)

    def check_waiters(self) -> None:
        for target, num, future in list(self.waiters):
            if not future.done() and self.count_acked(target) >= num:
                future.set_result(None)

    def cron(self) -> None:
        now = time.time()
        config = self.server.config
        is_replica = self.server.replica_side.is_replica()
        period = config.int("repl-ping-replica-period")
        if self.replicas and not is_replica and now - self.last_ping >= period:
            self.last_ping = now
            self.feed_raw(PING)
        elif not self.replicas and not is_replica:
            self.last_ping = now
        timeout = config.int("repl-timeout")
        for client in list(self.replicas):
            st = client.replica
            if st.state != "online" and now - st.last_newline >= 1 and st.buffer is not None and not st.wait_ack:
                st.last_newline = now
                client.write(b"\n")
            if st.state == "online" and not st.pre_psync and now - st.ack_time > timeout:
                self.server.log.warning(
                    f"Disconnecting timedout replica (streaming sync): {client.addr.split(':')[0]}:{st.listening_port}"
                )
                client.kill()
                self.replica_gone(client)
            elif st.buffer is not None and len(st.buffer) > 10000:
                st.buffer = [b"".join(st.buffer)]
            elif st.soft_since is not None and now - st.soft_since > self.replica_limits[2]:
                pending = st.buffered if st.buffer is not None else (
                    client.transport.get_write_buffer_size() if client.transport is not None else 0)
                if pending > self.replica_limits[1]:
                    self.drop_for_output_limit(client)
                else:
                    st.soft_since = None
        ttl = config.int("repl-backlog-ttl")
        if (
            self.backlog is not None
            and not is_replica
            and not self.replicas
            and ttl > 0
            and now - self.no_replicas_since > ttl
        ):
            self.change_replid()
            self.clear_replid2()
            self.backlog = None
            self.server.log.notice(f"Replication backlog freed after {ttl} seconds without connected replicas.")
        if self.waiters:
            self.check_waiters()

    def role_reply(self) -> list:
        replicas = []
        for c in self.online_replicas():
            st = c.replica
            replicas.append([st.ip or c.addr.rsplit(":", 1)[0], str(st.listening_port), str(st.ack_off)])
        return [b"master", self.offset, replicas]

    def info_lines(self) -> list[str]:
        lines = []
        now = time.time()
        for i, c in enumerate(self.replicas):
            st = c.replica
            lag = int(now - st.ack_time) if st.state == "online" else 0
            ip = st.ip or c.addr.rsplit(":", 1)[0]
            lines.append(f"slave{i}:ip={ip},port={st.listening_port},state={st.state},offset={st.ack_off},lag={lag}")
        return lines
