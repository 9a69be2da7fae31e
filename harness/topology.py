"""Master / replica / cascade topologies, built from a short description and wired through proxies.

`"m <- r1, r2"` is one master with two replicas; `"m <- r1 <- r2"` is a cascade. Each node of
a group replicates from the first node of the group to its left. Every REPLICAOF points at
the edge proxy (replica -> proxy -> master), never at the master's own port, so any link can
be faulted by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from harness.network import Edge, Network
from harness.nodes.base import HarnessError, Node
from harness.nodes.factory import NodeFactory
from harness.recorder import current as current_recorder
from harness.session import Target
from harness.waits import wait_until

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class TopologyError(HarnessError):
    """A topology description or operation that cannot work (named so the user can fix it)."""


def parse(description: str) -> list[tuple[str, str | None]]:
    """`"m <- r1, r2 <- r3"` -> [("m", None), ("r1", "m"), ("r2", "m"), ("r3", "r1")]."""
    groups = [g.strip() for g in description.split("<-")]
    result: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    previous_head: str | None = None
    for index, group in enumerate(groups):
        names = [n.strip() for n in group.split(",") if n.strip()]
        if not names:
            raise TopologyError(f"empty group in topology {description!r}")
        if index == 0 and len(names) != 1:
            raise TopologyError(f"topology {description!r} must start with exactly one master")
        for name in names:
            if not _NAME.match(name):
                raise TopologyError(f"bad node name {name!r} in {description!r} (letters, digits, _)")
            if name in seen:
                raise TopologyError(f"node {name!r} appears twice in {description!r}")
            seen.add(name)
            result.append((name, previous_head))
        previous_head = names[0]
    return result


class Topology:
    """Nodes and the edges between them, plus who replicates from whom right now."""

    def __init__(self, factory: NodeFactory, network: Network, target: Target, wait_timeout: float = 15.0):
        self.factory = factory
        self.network = network
        self.target = target
        self.wait_timeout = wait_timeout
        self.nodes: dict[str, Node] = {}
        self.upstream: dict[str, str | None] = {}  # node -> its master (None for a master)

    # --- building -------------------------------------------------------------------------
    def add_node(
        self,
        name: str,
        role: str = "replica",
        directives: Iterable[tuple[str, str]] = (),
        port: int | None = None,
        start: bool = True,
    ) -> Node:
        if name in self.nodes:
            raise TopologyError(f"node {name!r} already exists")
        build = self.target.build_for(role)
        node = self.factory.create(name, build, list(directives), port=port, start=start)
        self.nodes[name] = node
        self.upstream[name] = None
        return node

    def __getitem__(self, name: str) -> Node:
        return self.node(name)

    def node(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise TopologyError(f"no node {name!r} in this topology (have {', '.join(self.nodes)})") from None

    @property
    def edges(self) -> dict[str, Edge]:
        return self.network.edges

    def edge(self, replica: str, master: str | None = None) -> Edge:
        """The proxy of replica -> master (its current master by default)."""
        master = master or self.upstream.get(replica)
        if master is None:
            raise TopologyError(f"{replica!r} has no master, so it has no edge")
        return self.ensure_edge(replica, master)

    def ensure_edge(self, replica: str, master: str) -> Edge:
        target = self.node(master)
        self.node(replica)
        return self.network.edge(replica, master, target.host, target.port)

    # --- replication commands -------------------------------------------------------------
    def replicaof(self, replica: str, master: str | None, spelling: str = "REPLICAOF") -> str:
        """Point `replica` at `master` through its edge proxy (None: NO ONE); returns the reply."""
        if spelling.upper() not in ("REPLICAOF", "SLAVEOF"):
            raise TopologyError(f"spelling must be REPLICAOF or SLAVEOF, got {spelling!r}")
        node = self.node(replica)
        if master is None:
            reply = node.raw_command(spelling, "NO", "ONE")
        else:
            if master == replica:
                raise TopologyError(f"{replica!r} cannot replicate from itself")
            edge = self.ensure_edge(replica, master)
            reply = node.raw_command(spelling, edge.listen_host, edge.listen_port)
        self.upstream[replica] = master
        current_recorder().event("topology", spelling.lower(), replica, master=master or "NO ONE")
        return str(reply)

    def promote(self, name: str) -> str:
        return self.replicaof(name, None)

    def master_of(self, name: str) -> str | None:
        return self.upstream.get(name)

    def replicas_of(self, name: str) -> list[str]:
        return [n for n, m in self.upstream.items() if m == name]

    def replicas(self) -> list[str]:
        return [n for n, m in self.upstream.items() if m is not None]

    # --- waiting --------------------------------------------------------------------------
    def wait_links_up(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None:
        wanted = list(names) if names is not None else self.replicas()

        def statuses() -> dict[str, Any]:
            return {n: self.node(n).info("replication").get("master_link_status") for n in wanted}

        wait_until(statuses, lambda s: all(v == "up" for v in s.values()),
                   timeout=timeout or self.wait_timeout, what=f"master_link_status:up on {', '.join(wanted)}")

    def wait_link_down(self, name: str, timeout: float | None = None) -> None:
        wait_until(lambda: self.node(name).info("replication").get("master_link_status"),
                   lambda s: s == "down", timeout=timeout or self.wait_timeout,
                   what=f"master_link_status:down on {name}")

    def offsets(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Replication offsets as each node reports them (master_repl_offset / slave_repl_offset)."""
        result: dict[str, Any] = {}
        for name in names if names is not None else self.nodes:
            info = self.node(name).info("replication")
            result[name] = {
                "role": info.get("role"),
                "master_repl_offset": info.get("master_repl_offset"),
                "slave_repl_offset": info.get("slave_repl_offset"),
                "link": info.get("master_link_status"),
            }
        return result

    def wait_in_sync(self, names: Iterable[str] | None = None, timeout: float | None = None) -> None:
        """Every replica's link is up and it applied everything its master has produced."""
        replicas = list(names) if names is not None else self.replicas()

        def probe() -> dict[str, Any]:
            state: dict[str, Any] = {}
            for replica in replicas:
                master = self.upstream[replica]
                assert master is not None
                master_offset = self.node(master).info("replication")["master_repl_offset"]
                info = self.node(replica).info("replication")
                state[replica] = (info.get("master_link_status"), info.get("slave_repl_offset"), master_offset)
            return state

        def synced(state: dict[str, Any]) -> bool:
            return all(link == "up" and applied == produced for link, applied, produced in state.values())

        wait_until(probe, synced, timeout=timeout or self.wait_timeout,
                   what=f"replicas {', '.join(replicas)} in sync (link, slave_repl_offset, master offset)")

    # --- node lifecycle passthroughs (recorded by the nodes) -------------------------------
    def restart(self, name: str, keep_data: bool = True, save: bool | None = None) -> Node:
        node = self.node(name)
        node.restart(keep_data=keep_data, save=save)
        return node


def build_topology(
    factory: NodeFactory,
    network: Network,
    target: Target,
    description: str,
    directives: dict[str, list[tuple[str, str]]] | None = None,
    link: bool = True,
    wait: bool = True,
    spelling: str = "REPLICAOF",
    wait_timeout: float = 15.0,
) -> Topology:
    """Start every node of `description`; with link=True issue REPLICAOF top-down and wait for
    every link to be up (and, with wait=True, in sync)."""
    directives = directives or {}
    plan = parse(description)
    unknown = set(directives) - {name for name, _ in plan} - {"*"}
    if unknown:
        raise TopologyError(f"directives for unknown nodes {sorted(unknown)} (topology {description!r})")
    topo = Topology(factory, network, target, wait_timeout=wait_timeout)
    for name, master in plan:
        per_node = directives.get("*", []) + directives.get(name, [])
        topo.add_node(name, role="master" if master is None else "replica", directives=per_node)
    if link:
        for name, master in plan:
            if master is not None:
                topo.replicaof(name, master, spelling=spelling)
                # Link top-down: a cascade's middle node must be up before its own replica
                # asks it for PSYNC, or the leaf just gets -NOMASTERLINK for a while.
                topo.wait_links_up([name])
        if wait:
            topo.wait_in_sync()
    return topo
