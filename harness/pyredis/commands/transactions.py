"""MULTI / EXEC / DISCARD / WATCH / UNWATCH."""

from __future__ import annotations

from harness.pyredis import resp
from harness.pyredis.commands import CommandError, command


def discard_state(client) -> None:
    client.multi = None
    client.multi_error = False
    unwatch_all(client)


def unwatch_all(client) -> None:
    for db, key in client.watched:
        watchers = db.watchers.get(key)
        if watchers:
            watchers.discard(client)
            if not watchers:
                del db.watchers[key]
    client.watched = []
    client.dirty_cas = False


@command("multi", 1, "fast loading stale", "transaction")
def multi(client, args):
    if client.multi is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi = []
    client.multi_error = False
    return resp.OK


@command("discard", 1, "fast loading stale", "transaction")
def discard(client, args):
    if client.multi is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_state(client)
    return resp.OK


@command("watch", -2, "fast loading stale", "transaction")
def watch(client, args):
    if client.multi is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    db = client.db
    for key in args[1:]:
        if (db, key) in client.watched:
            continue
        client.watched.append((db, key))
        db.watchers.setdefault(key, set()).add(client)
    return resp.OK


@command("unwatch", 1, "fast loading stale", "transaction")
def unwatch(client, args):
    unwatch_all(client)
    return resp.OK


@command("exec", 1, "loading stale", "transaction")
def exec_(client, args):
    if client.multi is None:
        raise CommandError("ERR EXEC without MULTI")
    queued = client.multi
    if client.multi_error:
        discard_state(client)
        raise CommandError("EXECABORT Transaction discarded because of previous errors.")
    if client.dirty_cas:
        discard_state(client)
        return resp.null_array()
    server = client.server
    client.multi = None
    # A write queued on a master that has since become a read-only replica must fail as a whole.
    for cmd, _ in queued:
        error = server.precheck(client, cmd)
        if error is not None and cmd.is_write:
            discard_state(client)
            raise CommandError("EXECABORT Transaction discarded because of: " + error[1:-2].decode())
    replies = [b"*%d\r\n" % len(queued)]
    server.call_depth += 1
    try:
        for cmd, cmd_args in queued:
            reply = server.call(client, cmd, cmd_args)
            if not isinstance(reply, bytes):
                reply = resp.null_array()
            replies.append(reply)
    finally:
        server.call_depth -= 1
    discard_state(client)
    return b"".join(replies)
