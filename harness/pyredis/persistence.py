"""RDB persistence: load at start, SAVE / BGSAVE / save rules, pidfile.

A corrupt file must stop the start with a clear message and must never be overwritten, so
loading happens before anything could save, and every save goes to a temp file first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.pyredis.server import Server


class Persistence:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.lastsave = int(time.time())
        self.dirty_at_save = 0
        self.bgsave_task: asyncio.Task | None = None
        self.last_bgsave_ok = True
        self.changes_since_save = 0
        self.loaded_keys = 0
        self.expired_on_load = 0
        self.last_save_time = time.time()

    # --- paths --------------------------------------------------------------------------------
    def rdb_path(self) -> str:
        return self.server.config.rdb_path()

    def write_pidfile(self) -> None:
        path = self.server.config.get("pidfile")
        if path:
            try:
                with open(path, "w") as fh:
                    fh.write(f"{os.getpid()}\n")
            except OSError as exc:
                self.server.log.warning(f"Failed to write PID file: {exc.strerror}")

    def remove_pidfile(self) -> None:
        path = self.server.config.get("pidfile")
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)

    # --- loading ------------------------------------------------------------------------------
    def load_at_start(self) -> None:
        """Load dump.rdb if present; raise (with Redis-like words) if it cannot be loaded."""
        from harness.pyredis import rdb

        server = self.server
        path = self.rdb_path()
        if not os.path.exists(path):
            return
        started = time.time()
        with open(path, "rb") as fh:
            data = fh.read()
        if not data:
            return
        try:
            contents = rdb.load_rdb(data)
        except rdb.RdbError as exc:
            server.log.warning(f"Short read or OOM loading DB. Unrecoverable error, aborting now. ({exc})")
            server.log.warning(f"Internal error in RDB reading offset 0, function at rdb.c:0 -> {exc}")
            raise RuntimeError(f"corrupt RDB file {path}: {exc}") from None
        is_replica = server.config.replicaof() is not None
        now = int(time.time() * 1000)
        expired: list[tuple[int, bytes]] = []
        if not is_replica:
            for index, keys in contents.dbs.items():
                for key, (_, when) in list(keys.items()):
                    if when is not None and when <= now:
                        del keys[key]
                        expired.append((index, key))
        server.keyspace.replace(contents.dbs)
        self.loaded_keys = server.keyspace.total_keys()
        self.expired_on_load = len(expired)
        server.log.notice(
            f"Done loading RDB, keys loaded: {self.loaded_keys}, keys expired: {len(expired)}."
        )
        server.log.notice(f"DB loaded from disk: {time.time() - started:.3f} seconds")
        aux = contents.aux
        repl_id = aux.get("repl-id", b"").decode(errors="replace")
        try:
            repl_off = int(aux.get("repl-offset", b"-1"))
            stream_db = int(aux.get("repl-stream-db", b"0"))
        except ValueError:
            repl_off, stream_db = -1, 0
        if len(repl_id) == 40 and repl_off >= 0:
            repl = server.repl
            if is_replica:
                repl.replid = repl_id
                repl.offset = repl_off
                repl.create_backlog()
                server.replica_side.cached = (repl_id, repl_off, stream_db)
            else:
                # 7.0+: the old history becomes replid2 so former replicas can PSYNC.
                repl.replid2 = repl_id
                repl.second_offset = repl_off + 1
                repl.change_replid()
                repl.offset = repl_off
                repl.create_backlog()
                for index, key in expired:
                    repl.feed(index, [b"DEL", key])

    # --- saving -------------------------------------------------------------------------------
    def _aux(self) -> dict:
        server = self.server
        rs = server.replica_side
        repl = server.repl
        if (not rs.is_replica() and repl.backlog is not None) or (
            rs.is_replica() and (rs.link_client is not None or rs.cached is not None)
        ):
            aux = repl.rdb_aux()
            if rs.is_replica() and rs.link_client is None and rs.cached is not None:
                aux = {"repl-id": rs.cached[0], "repl-offset": rs.cached[1], "repl-stream-db": rs.cached[2]}
            return aux
        return {}

    def _write(self, payload: bytes) -> None:
        path = self.rdb_path()
        tmp = os.path.join(os.path.dirname(path) or ".", f"temp-{os.getpid()}.rdb")
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def save(self) -> None:
        from harness.pyredis import rdb

        server = self.server
        payload = rdb.dump_rdb(server.keyspace.snapshot(), aux=self._aux())
        self._write(payload)
        self._saved()

    def _saved(self) -> None:
        self.lastsave = int(time.time())
        self.last_save_time = time.time()
        self.dirty_at_save = self.server.dirty
        self.last_bgsave_ok = True

    def write_transfer(self, payload: bytes) -> None:
        """A replica keeps the master's snapshot as its own dump file, as disk-load mode does."""
        try:
            self._write(payload)
            self._saved()
        except OSError as exc:
            self.server.log.warning(f"Failed to write the received RDB to disk: {exc}")

    def bgsave(self) -> bool:
        """Start a background save; False if one is already running."""
        if self.bgsave_task is not None and not self.bgsave_task.done():
            return False
        from harness.pyredis import rdb

        server = self.server
        snapshot = server.keyspace.snapshot()
        aux = self._aux()
        dirty = server.dirty
        loop = asyncio.get_running_loop()
        server.log.notice(f"Background saving started by pid {os.getpid()}")

        async def run() -> None:
            try:
                await loop.run_in_executor(None, lambda: self._write(rdb.dump_rdb(snapshot, aux=aux)))
            except Exception as exc:  # noqa: BLE001
                self.last_bgsave_ok = False
                server.log.warning(f"Background saving error: {exc}")
                return
            self.lastsave = int(time.time())
            self.last_save_time = time.time()
            self.dirty_at_save = dirty
            self.last_bgsave_ok = True
            server.log.notice("Background saving terminated with success")

        self.bgsave_task = loop.create_task(run())
        return True

    def in_progress(self) -> bool:
        return self.bgsave_task is not None and not self.bgsave_task.done()

    def cron(self) -> None:
        if self.in_progress():
            return
        changes = self.server.dirty - self.dirty_at_save
        if changes <= 0:
            return
        elapsed = time.time() - self.last_save_time
        for seconds, count in self.server.config.save_rules():
            if elapsed >= seconds and changes >= count:
                self.server.log.notice(f"{count} changes in {seconds} seconds. Saving...")
                self.bgsave()
                return
