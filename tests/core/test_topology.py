"""Topologies on real servers through the embedded Toxiproxy: wiring, promotion, re-pointing, ledger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.ledger import SyncWatch
from harness.network import Network
from harness.session import Target
from harness.topology import TopologyError, build_topology
from harness.toxiproxy import EmbeddedToxiproxy
from harness.waits import WaitTimeout


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy() as server:
        yield server


@pytest.fixture
def network(toxiproxy: EmbeddedToxiproxy) -> Iterator[Network]:
    net = Network(toxiproxy.url)
    yield net
    net.remove_all()


def test_cascade_is_wired_through_edges(factory, network, build) -> None:
    topo = build_topology(factory, network, Target(build.label, build, build), "m <- r1 <- r2")
    assert set(topo.edges) == {"r1->m", "r2->r1"}
    for replica, master in (("r1", "m"), ("r2", "r1")):
        info = topo[replica].info("replication")
        assert info["master_port"] == topo.edge(replica).listen_port  # never the master's own port
        assert topo.edge(replica).upstream == f"127.0.0.1:{topo[master].port}"
    assert topo.master_of("r2") == "r1" and topo.replicas_of("m") == ["r1"]

    watch = SyncWatch(topo["r1"], "promotion")
    topo.promote("r1")
    assert topo.master_of("r1") is None
    topo["r1"].client().set("after", "promotion")
    topo.wait_in_sync(["r2"])
    assert watch.delta().kind == "partial"
    assert topo["r2"].client().get("after") == "promotion"


def test_wait_in_sync_reports_what_it_saw(factory, network, build) -> None:
    topo = build_topology(factory, network, Target(build.label, build, build), "m <- r1")
    with topo.edge("r1").cut():
        topo.wait_link_down("r1", timeout=10)
        with pytest.raises(WaitTimeout, match=r"replicas r1 in sync .* last seen: \{'r1': \('down',"):
            topo.wait_in_sync(timeout=0.5)


def test_topology_errors_are_named(factory, network, build) -> None:
    target = Target(build.label, build, build)
    with pytest.raises(TopologyError, match="directives for unknown nodes"):
        build_topology(factory, network, target, "m <- r1", directives={"r9": [("save", "")]})
    topo = build_topology(factory, network, target, "m", link=False)
    with pytest.raises(TopologyError, match="no node 'ghost'"):
        topo.replicaof("ghost", "m")
    with pytest.raises(TopologyError, match="cannot replicate from itself"):
        topo.replicaof("m", "m")
    with pytest.raises(TopologyError, match="spelling must be REPLICAOF or SLAVEOF"):
        topo.replicaof("m", "m", spelling="FOLLOW")
