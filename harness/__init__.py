"""Chaos and conformance harness for Redis master-replica replication."""

__version__ = "0.1.0"
