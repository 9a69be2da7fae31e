"""Connection commands: PING, ECHO, AUTH, HELLO, QUIT, CLIENT, COMMAND, RESET."""

from __future__ import annotations

from harness.pyredis import resp
from harness.pyredis.commands import COMMANDS, SYNTAX, CommandError, command, to_int

WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


@command("ping", -1, "fast stale", "connection")
def ping(client, args):
    if len(args) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    return resp.bulk(args[1]) if len(args) == 2 else resp.PONG


@command("echo", 2, "fast", "connection")
def echo(client, args):
    return resp.bulk(args[1])


@command("quit", -1, "fast loading stale", "connection")
def quit_(client, args):
    client.close_after_reply = True
    return resp.OK


def authenticate(client, username: str, password: str) -> bool:
    user = client.server.config.users.get(username)
    if user is None or not user.enabled:
        return False
    if not user.nopass and password not in user.passwords:
        return False
    client.user = username
    client.authenticated = True
    return True


@command("auth", -2, "fast loading stale noscript", "connection")
def auth(client, args):
    if len(args) > 3:
        raise CommandError(SYNTAX)
    server = client.server
    if len(args) == 2:
        if not server.config.get("requirepass") and server.config.users["default"].nopass:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default user. "
                "Are you sure your configuration is correct?"
            )
        username, password = "default", args[1].decode(errors="surrogateescape")
    else:
        username, password = args[1].decode(errors="surrogateescape"), args[2].decode(errors="surrogateescape")
    if not authenticate(client, username, password):
        raise CommandError(WRONGPASS)
    return resp.OK


@command("hello", -1, "fast loading stale noscript", "connection")
def hello(client, args):
    i = 1
    if len(args) > 1:
        try:
            proto = to_int(args[1])
        except CommandError:
            raise CommandError("ERR Protocol version is not an integer or out of range") from None
        if proto not in (2, 3):
            raise CommandError("NOPROTO unsupported protocol version")
        i = 2
    while i < len(args):
        opt = args[i].lower()
        if opt == b"auth" and i + 2 < len(args):
            if not authenticate(client, args[i + 1].decode(errors="surrogateescape"), args[i + 2].decode(errors="surrogateescape")):
                raise CommandError(WRONGPASS)
            i += 3
        elif opt == b"setname" and i + 1 < len(args):
            client.name = args[i + 1]
            i += 2
        else:
            raise CommandError(f"ERR Syntax error in HELLO option '{args[i].decode(errors='replace')}'")
    if not client.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    from harness.pyredis.server import REDIS_VERSION

    if len(args) > 1:
        client.proto = proto
        resp.STATE.proto = proto
    role = "replica" if client.server.replica_side.is_replica() else "master"
    return resp.map_([b"server", b"redis", b"version", REDIS_VERSION.encode(), b"proto", client.proto, b"id", client.id,
                       b"mode", b"standalone", b"role", role.encode(), b"modules", []])


@command("reset", 1, "fast loading stale noscript", "connection")
def reset(client, args):
    from harness.pyredis.commands.transactions import discard_state

    discard_state(client)
    client.db = client.server.keyspace.dbs[0]
    client.name = b""
    return resp.simple("RESET")


@command("client", -2, "admin loading stale", "connection")
def client_cmd(client, args):
    sub = args[1].lower()
    server = client.server
    if sub == b"id" and len(args) == 2:
        return resp.integer(client.id)
    if sub == b"getname" and len(args) == 2:
        return resp.bulk(client.name or None)
    if sub == b"setname" and len(args) == 3:
        if any(c <= 32 or c > 126 for c in args[2]):
            raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        client.name = args[2]
        return resp.OK
    if sub == b"setinfo" and len(args) == 4:
        return resp.OK
    if sub == b"info" and len(args) == 2:
        return resp.bulk((client.describe() + "\n").encode())
    if sub == b"list":
        kind = None
        if len(args) == 4 and args[2].lower() == b"type":
            kind = args[3].lower()
        elif len(args) != 2:
            raise CommandError(SYNTAX)
        lines = [c.describe() for c in server.clients.values() if kind is None or _type_of(c) == _norm_type(kind)]
        return resp.bulk(("\n".join(lines) + "\n").encode())
    if sub == b"kill":
        return _client_kill(client, args)
    if sub in (b"no-evict", b"no-touch", b"reply", b"tracking", b"caching"):
        return resp.OK
    if sub == b"pause" or sub == b"unpause":
        return resp.OK
    raise CommandError(
        f"ERR unknown subcommand '{args[1].decode(errors='replace')}'. Try CLIENT HELP."
    )


def _type_of(c) -> str:
    if c.is_master_link:
        return "master"
    if c.replica is not None:
        return "replica"
    return "normal"


def _norm_type(raw: bytes) -> str:
    t = raw.decode(errors="replace")
    if t == "slave":
        return "replica"
    if t not in ("normal", "master", "replica", "pubsub"):
        raise CommandError(f"ERR Unknown client type '{t}'")
    return t


def _client_kill(client, args) -> bytes:
    server = client.server
    targets = list(server.clients.values())
    if len(args) == 3:
        addr = args[2].decode(errors="replace")
        for c in targets:
            if c.addr == addr:
                _kill(server, c)
                return resp.OK
        raise CommandError("ERR No such client")
    if len(args) % 2:
        raise CommandError(SYNTAX)
    skipme = True
    want: dict[str, object] = {}
    for i in range(2, len(args), 2):
        opt, val = args[i].lower().decode(errors="replace"), args[i + 1]
        if opt == "id":
            want["id"] = to_int(val)
        elif opt == "type":
            want["type"] = _norm_type(val.lower())
        elif opt in ("addr", "laddr", "user"):
            want[opt] = val.decode(errors="replace")
        elif opt == "skipme":
            skipme = val.lower() == b"yes"
        elif opt == "maxage":
            want["maxage"] = to_int(val)
        else:
            raise CommandError(SYNTAX)

    def matches(c) -> bool:
        import time

        for key, expected in want.items():
            if key == "id" and c.id != expected:
                return False
            if key == "type" and _type_of(c) != expected:
                return False
            if key in ("addr", "laddr", "user") and getattr(c, key) != expected:
                return False
            if key == "maxage" and time.time() - c.created < expected:
                return False
        return True

    killed = 0
    for c in targets:
        if skipme and c is client:
            continue
        if matches(c):
            _kill(server, c)
            killed += 1
    return resp.integer(killed)


def _kill(server, c) -> None:
    if c.is_master_link:
        server.replica_side.drop_link("killed by CLIENT KILL")
    elif c.replica is not None:
        c.kill()
    else:
        c.close()


@command("command", -1, "loading stale", "connection")
def command_cmd(client, args):
    if len(args) >= 2 and args[1].lower() == b"count":
        return resp.integer(len(COMMANDS))
    if len(args) >= 2 and args[1].lower() == b"docs":
        return resp.EMPTY_ARRAY
    if len(args) >= 2 and args[1].lower() == b"info":
        names = args[2:]
    else:
        names = list(COMMANDS)
    out: list = []
    for name in names:
        cmd = COMMANDS.get(name.lower())
        if cmd is None:
            out.append(None)
            continue
        out.append([cmd.name.encode(), cmd.arity, [f.encode() for f in sorted(cmd.flags)], 1 if cmd.arity not in (1, -1) else 0, 1 if cmd.arity not in (1, -1) else 0, 1])
    return resp.array(out)


@command("time", 1, "fast loading stale", "server")
def time_cmd(client, args):
    import time

    now = time.time()
    return resp.array([b"%d" % int(now), b"%d" % int((now % 1) * 1_000_000)])


@command("publish", 3, "pubsub loading stale fast", "pubsub")
def publish(client, args):
    """No pub/sub here: nobody is subscribed, but masters propagate PUBLISH, so accept it."""
    return resp.ZERO
