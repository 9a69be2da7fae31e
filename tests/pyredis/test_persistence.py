"""RDB persistence of the Python node: SAVE/BGSAVE/SHUTDOWN, restart, corrupt files and transfers."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.pyredis.conftest import wait_offsets_equal, wait_until


def _fill(c) -> None:
    c.set("s", "v")
    c.set("ttl", "x", ex=1000)
    c.rpush("l", "a", "b")
    c.hset("h", mapping={"f": "1"})
    c.sadd("set", "m1", "m2")
    c.zadd("z", {"a": 1.5, "b": -2})


def test_save_restart_data_back(servers):
    node = servers("py")
    with node.client() as c:
        _fill(c)
        digest = c.execute_command("DEBUG", "DIGEST")
        before = c.lastsave()
        assert c.save()
        assert c.lastsave() >= before
    node.kill()
    node.start()
    with node.client() as c:
        assert c.execute_command("DEBUG", "DIGEST") == digest
        assert 0 < c.ttl("ttl") <= 1000
        assert c.zrange("z", 0, -1, withscores=True) == [("b", -2.0), ("a", 1.5)]


def test_bgsave_and_shutdown_save(servers):
    node = servers("py")
    with node.client() as c:
        _fill(c)
        assert c.bgsave()
        wait_until(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, 10, "BGSAVE to finish")
        c.set("late", "1")
        try:
            c.shutdown(save=True)
        except Exception:  # noqa: BLE001 - the connection drops when the server exits
            pass
    assert node.proc is not None
    node.proc.wait(10)
    node.proc = None
    node.start()
    with node.client() as c:
        assert c.get("late") == "1"


def test_sigterm_saves_only_with_save_rules(servers):
    node = servers("py")  # save ""
    with node.client() as c:
        c.set("a", "1")
    assert node.stop() == 0
    node.start()
    with node.client() as c:
        assert c.get("a") is None
    saving = servers("py", save="3600 1")
    with saving.client() as c:
        c.set("a", "1")
    assert saving.stop() == 0
    saving.start()
    with saving.client() as c:
        assert c.get("a") == "1"


@pytest.mark.parametrize("damage", ["truncate", "checksum", "garbage"])
def test_corrupt_rdb_refuses_to_start_and_keeps_file(servers, damage):
    node = servers("py")
    with node.client() as c:
        _fill(c)
        c.save()
    node.kill()
    path = node.dir / "dump.rdb"
    data = path.read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "checksum":
        data = data[:-1] + bytes([data[-1] ^ 0xFF])
    else:
        data = b"not an rdb at all"
    path.write_bytes(data)
    with pytest.raises(AssertionError, match="exited with 1"):
        node.start(timeout=10)
    assert path.read_bytes() == data
    assert "Fatal error loading the DB" in node.log_text()


def test_master_restart_keeps_history_for_psync(servers):
    master = servers("py", save="3600 1")
    replica = servers("py")
    replica.replicaof(master)
    replica.wait_link_up()
    with master.client() as m:
        for i in range(50):
            m.set(f"k{i}", i)
    wait_offsets_equal(master, replica)
    old_id = master.info()["master_replid"]
    assert master.stop() == 0
    master.start()
    info = master.info()
    assert info["master_replid2"] == old_id and info["master_replid"] != old_id
    replica.wait_link_up()
    wait_offsets_equal(master, replica)
    assert master.info("stats")["sync_partial_ok"] == 1
    assert replica.digest() == master.digest()


class ScriptedMaster:
    """A fake master that answers the handshake and sends a corrupt RDB payload."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.attempts = 0
        self.stop = False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    answered = 0
                    while b"PSYNC" not in data:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                        # One reply per command seen so far: PING, then the two REPLCONFs.
                        wanted = data.count(b"PING") + data.count(b"REPLCONF")
                        while answered < wanted:
                            conn.sendall(b"+PONG\r\n" if answered == 0 else b"+OK\r\n")
                            answered += 1
                    self.attempts += 1
                    bad = b"REDIS0009\xfa\x09redis-verGARBAGE"
                    conn.sendall(b"+FULLRESYNC " + b"a" * 40 + b" 0\r\n$%d\r\n" % len(bad) + bad)
                    conn.recv(100)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop = True
        self.sock.close()
        self.thread.join(5)


def test_corrupt_transfer_keeps_old_data_and_retries(servers):
    replica = servers("py")
    with replica.client() as c:
        c.set("precious", "1")
    fake = ScriptedMaster()
    try:
        with replica.client() as c:
            c.execute_command("REPLICAOF", "127.0.0.1", fake.port)
        wait_until(lambda: fake.attempts >= 2, 10, "the replica to retry after a corrupt transfer")
        replica.wait_log("Failed trying to load the MASTER synchronization DB")
        with replica.client() as c:
            assert c.get("precious") == "1"
            assert c.info("replication")["master_link_status"] == "down"
    finally:
        fake.close()
