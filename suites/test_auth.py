"""Password auth: `masterauth` must match the master's `requirepass` (or an ACL user).

Seed: "if the master has a password, each replica also needs `masterauth <password>`". Redis
documents what happens otherwise: without it the handshake hits NOAUTH, with a wrong one AUTH
fails, and either way the link stays down until `CONFIG SET masterauth` fixes it.
"""

from __future__ import annotations

from harness.capture import assert_same_data
from harness.waits import wait_until

PASSWORD = "s3cret-master"


def _wait_log(node, text: str, timeout: float = 10) -> None:
    wait_until(node.log_text, lambda log: text in log, timeout=timeout,
               what=f"{node.name}'s log to mention {text!r}")


def test_right_masterauth_links_up(server, topology_factory) -> None:
    """requirepass on the master and the right masterauth on the replica: the link comes up"""
    topo = topology_factory("m <- r1", directives={
        "m": [("requirepass", PASSWORD)], "r1": [("masterauth", PASSWORD)]})
    topo["m"].client().set("secret-data", "1")
    topo.wait_in_sync()
    assert topo["r1"].client().get("secret-data") == "1"
    assert_same_data(topo["m"], topo["r1"])


def test_missing_masterauth_stays_down_without_data(server, topology_factory) -> None:
    """Without masterauth the handshake is refused with NOAUTH: link down, no data"""
    topo = topology_factory("m <- r1", directives={"m": [("requirepass", PASSWORD)]}, link=False)
    topo["m"].client().set("secret-data", "1")
    topo.replicaof("r1", "m")
    _wait_log(topo["r1"], "NOAUTH")

    info = topo["r1"].info("replication")
    assert info["role"] == "slave" and info["master_link_status"] == "down"
    assert topo["r1"].client().dbsize() == 0
    assert topo["m"].info("replication")["connected_slaves"] == 0


def test_wrong_masterauth_then_config_set_fixes_it(server, topology_factory) -> None:
    """A wrong masterauth keeps the link down; CONFIG SET masterauth brings it up with no other action"""
    topo = topology_factory("m <- r1", directives={
        "m": [("requirepass", PASSWORD)], "r1": [("masterauth", "wrong-password")]}, link=False)
    topo["m"].client().set("secret-data", "1")
    topo.replicaof("r1", "m")
    _wait_log(topo["r1"], "Unable to AUTH to MASTER")
    assert topo["r1"].info("replication")["master_link_status"] == "down"
    assert topo["r1"].client().dbsize() == 0

    topo["r1"].client().config_set("masterauth", PASSWORD)
    topo.wait_in_sync()
    assert topo["r1"].client().get("secret-data") == "1"


def test_acl_masteruser(server, topology_factory) -> None:
    """An ACL user with the replication commands works as masteruser/masterauth"""
    repl_user = "user replicator on >repl-pass +psync +replconf +ping +sync"
    topo = topology_factory("m <- r1", directives={
        "m": [("requirepass", PASSWORD), ("user", repl_user.removeprefix("user "))],
        "r1": [("masteruser", "replicator"), ("masterauth", "repl-pass")],
    })
    topo["m"].client().set("acl-data", "1")
    topo.wait_in_sync()
    assert topo["r1"].client().get("acl-data") == "1"
    users = topo["m"].client().execute_command("ACL", "USERS")
    assert "replicator" in users
