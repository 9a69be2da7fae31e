"""Seed walkthrough: one master and two replicas, configured and linked the way the seed does it.

The seed starts three servers from small conf files that `include` a shared redis.conf, runs
`slaveof 127.0.0.1 6379` on two of them, reads `info replication`, and undoes it with
`slaveof no one`. This suite does exactly that, on the seed's own ports when they are free.
"""

from __future__ import annotations

from harness.nodes.conf import conf_path
from harness.session import Target
from harness.topology import Topology
from harness.waits import wait_until

SEED_PORTS = {"m": 6379, "r1": 6380, "r2": 6381}


def _seed_ports(port_allocator, worker: str) -> dict[str, int | None]:
    """The seed's ports when all three are free here; otherwise fresh ones (None).

    Only one pytest process may try them (xdist workers would race for the same ports).
    """
    if worker in ("main", "gw0"):
        claimed = {name: port for name, port in SEED_PORTS.items() if port_allocator.claim(port)}
        if len(claimed) == 3:
            return claimed
    return {name: None for name in SEED_PORTS}


def test_seed_walkthrough(server: Target, node_factory, network, port_allocator, settings) -> None:
    """SLAVEOF on two nodes gives a master with two online replicas; SLAVEOF NO ONE undoes it"""
    topo = Topology(node_factory, network, server, wait_timeout=settings.wait_timeout)
    ports = _seed_ports(port_allocator, settings.worker)
    m = topo.add_node("m", role="master", port=ports["m"])
    r1 = topo.add_node("r1", port=ports["r1"])
    r2 = topo.add_node("r2", port=ports["r2"])

    # Each node's file is the seed's: include the shared conf, then port / pidfile / dbfilename.
    for node in (m, r1, r2):
        text = conf_path(node.config).read_text()
        assert f"include {node.config.run_dir / 'redis.conf'}" in text
        assert f"\nport {node.port}\n" in text
        assert f"pidfile {node.config.data_dir}/redis_{node.port}.pid" in text
        assert f"dbfilename dump{node.port}.rdb" in text
        info = node.info("replication")
        assert info["role"] == "master" and info["connected_slaves"] == 0

    m.client().set("before", "slaveof")
    for replica in ("r1", "r2"):
        assert topo.replicaof(replica, "m", spelling="SLAVEOF") == "OK"
    topo.wait_in_sync()

    master_info = m.info("replication")
    assert master_info["role"] == "master"
    assert master_info["connected_slaves"] == 2
    slaves = [master_info["slave0"], master_info["slave1"]]
    assert sorted(s["port"] for s in slaves) == sorted([r1.port, r2.port])
    assert all(s["ip"] == "127.0.0.1" and s["state"] == "online" for s in slaves)
    for name in ("r1", "r2"):
        info = topo[name].info("replication")
        edge = topo.edge(name)
        assert info["role"] == "slave"
        assert info["master_host"] == "127.0.0.1"
        assert info["master_port"] == edge.listen_port  # the master as this replica reaches it
        assert info["master_link_status"] == "up"
        assert topo[name].client().get("before") == "slaveof"

    # ROLE says the same in its array form: online replicas with their announced ports.
    role, offset, listed = m.raw_command("ROLE")
    assert role == "master" and offset == master_info["master_repl_offset"]
    assert sorted(int(port) for _, port, _ in listed) == sorted([r1.port, r2.port])
    for name in ("r1", "r2"):
        role, host, port, state, _ = topo[name].raw_command("ROLE")
        assert (role, host, port, state) == ("slave", "127.0.0.1", topo.edge(name).listen_port, "connected")

    # Read/write split, as the seed describes it: write to the master, read from a replica.
    m.client().set("after", "link")
    topo.wait_in_sync()
    assert r1.client().get("after") == r2.client().get("after") == "link"

    for name in ("r1", "r2"):
        assert topo.replicaof(name, None, spelling="SLAVEOF") == "OK"
        info = topo[name].info("replication")
        assert info["role"] == "master"
        assert topo[name].client().get("after") == "link"  # data kept
    wait_until(lambda: m.info("replication")["connected_slaves"], lambda n: n == 0,
               timeout=settings.wait_timeout, what="the master to see both replicas gone (connected_slaves:0)")
