"""Replication: backlog, master side (PSYNC, stream, ACKs) and replica side (link, load, apply)."""
