"""Creating nodes of any backend, and owning them until the test ends.

The factory is the only place that maps a ServerBuild's backend to a Node class, so a suite
that asks for "a node of this target" never names a backend. Everything it creates is
cleaned up in `cleanup()`, which the pytest fixture calls even when the test failed.
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

from harness.nodes.base import Node, NodeConfig, ServerBuild
from harness.recorder import current as current_recorder
from harness.rundir import PortAllocator, RunDir

# backend name -> "module:Class"
BACKEND_CLASSES: dict[str, str] = {
    "process": "harness.nodes.process:ProcessNode",
    "python": "harness.nodes.python:PythonNode",
    "container": "harness.nodes.container:ContainerNode",
}


def node_class(backend: str) -> type[Node]:
    try:
        module_name, class_name = BACKEND_CLASSES[backend].split(":")
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}: choose from {', '.join(BACKEND_CLASSES)}") from None
    cls: type[Node] = getattr(importlib.import_module(module_name), class_name)
    return cls


class NodeFactory:
    def __init__(self, run_dir: RunDir, ports: PortAllocator, settings: Any = None) -> None:
        self.run_dir = run_dir
        self.ports = ports
        self.settings = settings
        self.nodes: list[Node] = []

    def create(
        self,
        name: str,
        build: ServerBuild,
        directives: list[tuple[str, str]] | None = None,
        port: int | None = None,
        start: bool = True,
        start_timeout: float = 20.0,
    ) -> Node:
        """A node with its own dir and port; started (ready on PING) unless start=False."""
        config = NodeConfig(
            name=name,
            port=port or self.ports.allocate(),
            run_dir=self.run_dir.path,
            data_dir=self.run_dir.node_dir(name),
            directives=list(directives or []),
        )
        node = node_class(build.backend)(config, build)
        self.nodes.append(node)
        current_recorder().add_node(node)
        if start:
            node.start(timeout=start_timeout)
        return node

    def cleanup(self) -> None:
        for node in reversed(self.nodes):
            with contextlib.suppress(Exception):
                node.cleanup()
