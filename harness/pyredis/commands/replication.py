"""REPLICAOF / SLAVEOF, ROLE, REPLCONF, PSYNC / SYNC, WAIT."""

from __future__ import annotations

from harness.pyredis import resp
from harness.pyredis.commands import Blocked, CommandError, command, to_int


def _who(client) -> str:
    return f"id={client.id} addr={client.addr} laddr={client.laddr} fd=8 name={client.name.decode(errors='replace')}"


@command("replicaof", 3, "admin noscript stale", "admin dangerous")
def replicaof(client, args):
    server = client.server
    rs = server.replica_side
    if client.is_master_link or client.replica is not None:
        raise CommandError("ERR Command is not valid when client is a replica.")
    if args[1].lower() == b"no" and args[2].lower() == b"one":
        rs.unset_master(_who(client))
        return resp.OK
    try:
        port = int(args[2])
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise CommandError("ERR Invalid master port") from None
    host = args[1].decode(errors="replace")
    if rs.is_replica() and rs.master_host == host and rs.master_port == port:
        server.log.notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.")
        return resp.simple("OK Already connected to specified master")
    rs.set_master(host, port, who=_who(client))
    return resp.OK


@command("slaveof", 3, "admin noscript stale", "admin dangerous")
def slaveof(client, args):
    return replicaof(client, args)


@command("role", 1, "noscript loading stale fast", "admin dangerous")
def role(client, args):
    server = client.server
    if server.replica_side.is_replica():
        return resp.array(server.replica_side.role_reply())
    return resp.array(server.repl.role_reply())


@command("replconf", -1, "admin noscript loading stale", "admin dangerous")
def replconf(client, args):
    return client.server.repl.replconf(client, args)


@command("psync", -3, "admin noscript no-multi", "admin dangerous")
def psync(client, args):
    if client.multi is not None:
        raise CommandError("ERR Command not allowed inside a transaction")
    return client.server.repl.handle_sync(client, args)


@command("sync", 1, "admin noscript no-multi", "admin dangerous")
def sync(client, args):
    return client.server.repl.handle_sync(client, args)


@command("wait", 3, "noscript", "connection")
def wait(client, args):
    server = client.server
    if server.replica_side.is_replica():
        raise CommandError(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a "
            "replica is configured to be writable (which is not the default) writes to replicas are just "
            "local and are not propagated."
        )
    numreplicas = to_int(args[1])
    timeout = to_int(args[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    return Blocked(server.repl.wait(client, numreplicas, timeout))
