"""List commands on `deque[bytes]` values."""

from __future__ import annotations

from collections import deque

from harness.pyredis import resp
from harness.pyredis.blocking import Pop, pop_or_park
from harness.pyredis.commands import SYNTAX, CommandError, command, to_int, typed_lookup


def get_list(db, key: bytes, write: bool = False) -> deque | None:
    return typed_lookup(db, key, deque, write)


def _push(client, args, left: bool, only_existing: bool) -> bytes:
    db = client.db
    lst = get_list(db, args[1], write=True)
    if lst is None:
        if only_existing:
            return resp.ZERO
        lst = deque()
        db.set(args[1], lst)
    else:
        db.touch(args[1])
    if left:
        lst.extendleft(args[2:])
    else:
        lst.extend(args[2:])
    client.server.dirty += len(args) - 2
    return resp.integer(len(lst))


@command("lpush", -3, "write denyoom fast", "list")
def lpush(client, args):
    return _push(client, args, True, False)


@command("rpush", -3, "write denyoom fast", "list")
def rpush(client, args):
    return _push(client, args, False, False)


@command("lpushx", -3, "write denyoom fast", "list")
def lpushx(client, args):
    return _push(client, args, True, True)


@command("rpushx", -3, "write denyoom fast", "list")
def rpushx(client, args):
    return _push(client, args, False, True)


def _pop(client, args, left: bool) -> bytes:
    db = client.db
    if len(args) > 3:
        raise CommandError(SYNTAX)
    count = None
    if len(args) == 3:
        count = to_int(args[2], "ERR value is out of range, must be positive")
        if count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    lst = get_list(db, args[1], write=True)
    if lst is None:
        return resp.null_array() if count is not None else resp.null()
    n = 1 if count is None else min(count, len(lst))
    out = [lst.popleft() if left else lst.pop() for _ in range(n)]
    if not lst:
        db.delete(args[1])
    else:
        db.touch(args[1])
    if n:
        client.server.dirty += n
    if count is None:
        return resp.bulk(out[0])
    return resp.array(out)


@command("lpop", -2, "write fast", "list")
def lpop(client, args):
    return _pop(client, args, True)


@command("rpop", -2, "write fast", "list")
def rpop(client, args):
    return _pop(client, args, False)


def _range(n: int, start: int, end: int) -> tuple[int, int]:
    if start < 0:
        start = max(n + start, 0)
    if end < 0:
        end = n + end
    end = min(end, n - 1)
    return start, end


@command("lrange", 4, "readonly", "list")
def lrange(client, args):
    start, end = to_int(args[2]), to_int(args[3])
    lst = get_list(client.db, args[1])
    if lst is None:
        return resp.EMPTY_ARRAY
    start, end = _range(len(lst), start, end)
    if start > end:
        return resp.EMPTY_ARRAY
    if start == 0 and end == len(lst) - 1:
        return resp.array(list(lst))
    return resp.array([lst[i] for i in range(start, end + 1)])


@command("llen", 2, "readonly fast", "list")
def llen(client, args):
    lst = get_list(client.db, args[1])
    return resp.integer(0 if lst is None else len(lst))


@command("lindex", 3, "readonly", "list")
def lindex(client, args):
    index = to_int(args[2])
    lst = get_list(client.db, args[1])
    if lst is None:
        return resp.null()
    if index < 0:
        index += len(lst)
    if not 0 <= index < len(lst):
        return resp.null()
    return resp.bulk(lst[index])


@command("lset", 4, "write denyoom", "list")
def lset(client, args):
    index = to_int(args[2])
    lst = get_list(client.db, args[1], write=True)
    if lst is None:
        raise CommandError("ERR no such key")
    if index < 0:
        index += len(lst)
    if not 0 <= index < len(lst):
        raise CommandError("ERR index out of range")
    lst[index] = args[3]
    client.db.touch(args[1])
    client.server.dirty += 1
    return resp.OK


@command("lrem", 4, "write", "list")
def lrem(client, args):
    count = to_int(args[2])
    lst = get_list(client.db, args[1], write=True)
    if lst is None:
        return resp.ZERO
    target = args[3]
    items = list(lst)
    removed = 0
    if count >= 0:
        keep = []
        for item in items:
            if item == target and (count == 0 or removed < count):
                removed += 1
            else:
                keep.append(item)
    else:
        keep_rev = []
        for item in reversed(items):
            if item == target and removed < -count:
                removed += 1
            else:
                keep_rev.append(item)
        keep = keep_rev[::-1]
    if removed:
        lst.clear()
        lst.extend(keep)
        if not lst:
            client.db.delete(args[1])
        else:
            client.db.touch(args[1])
        client.server.dirty += removed
    return resp.integer(removed)


@command("ltrim", 4, "write", "list")
def ltrim(client, args):
    start, end = to_int(args[2]), to_int(args[3])
    lst = get_list(client.db, args[1], write=True)
    if lst is None:
        return resp.OK
    n = len(lst)
    start, end = _range(n, start, end)
    keep = [] if start > end or start >= n else [lst[i] for i in range(start, end + 1)]
    if len(keep) != n:
        lst.clear()
        lst.extend(keep)
        if not lst:
            client.db.delete(args[1])
        else:
            client.db.touch(args[1])
    client.server.dirty += 1
    return resp.OK


def move_element(db, src: deque, src_key: bytes, dst_key: bytes, src_left: bool, dst_left: bool) -> bytes:
    """Pop one end of `src` (the non-empty list at `src_key`) and push it on `dst_key` (LMOVE's work).

    The source is deleted only after the push, so moving within one single-element list
    rotates it instead of losing the key.
    """
    dst = get_list(db, dst_key, write=True)
    value = src.popleft() if src_left else src.pop()
    if dst is None:
        dst = deque()
        db.set(dst_key, dst)
    else:
        db.touch(dst_key)
    if dst_left:
        dst.appendleft(value)
    else:
        dst.append(value)
    if not src:
        db.delete(src_key)
    elif src is not dst:
        db.touch(src_key)
    return value


def _lmove(client, src_key: bytes, dst_key: bytes, src_left: bool, dst_left: bool) -> bytes:
    src = get_list(client.db, src_key, write=True)
    if src is None:
        return resp.null()
    value = move_element(client.db, src, src_key, dst_key, src_left, dst_left)
    client.server.dirty += 1
    return resp.bulk(value)


def _where(raw: bytes) -> bool:
    """LEFT → True, RIGHT → False (any case); anything else is a syntax error."""
    where = raw.lower()
    if where not in (b"left", b"right"):
        raise CommandError(SYNTAX)
    return where == b"left"


@command("rpoplpush", 3, "write denyoom", "list")
def rpoplpush(client, args):
    return _lmove(client, args[1], args[2], False, True)


@command("lmove", 5, "write denyoom", "list")
def lmove(client, args):
    return _lmove(client, args[1], args[2], _where(args[3]), _where(args[4]))


# --- blocking forms (parking and serving live in harness.pyredis.blocking) -------------------
@command("blpop", -3, "write noscript", "list")
def blpop(client, args):
    return pop_or_park(client, args[1:-1], args[-1], Pop(left=True, plain_name=b"LPOP"), resp.null_array())


@command("brpop", -3, "write noscript", "list")
def brpop(client, args):
    return pop_or_park(client, args[1:-1], args[-1], Pop(left=False, plain_name=b"RPOP"), resp.null_array())


@command("brpoplpush", 4, "write denyoom noscript", "list")
def brpoplpush(client, args):
    pop = Pop(left=False, destination=args[2], push_left=True, plain_name=b"RPOPLPUSH")
    return pop_or_park(client, [args[1]], args[3], pop, resp.null())


@command("blmove", 6, "write denyoom noscript", "list")
def blmove(client, args):
    pop = Pop(left=_where(args[3]), destination=args[2], push_left=_where(args[4]), plain_name=b"LMOVE")
    return pop_or_park(client, [args[1]], args[5], pop, resp.null(), directions=args[3:5])


@command("linsert", 5, "write denyoom", "list")
def linsert(client, args):
    where = args[2].lower()
    if where not in (b"before", b"after"):
        raise CommandError(SYNTAX)
    lst = get_list(client.db, args[1], write=True)
    if lst is None:
        return resp.ZERO
    try:
        index = list(lst).index(args[3])
    except ValueError:
        return resp.integer(-1)
    lst.insert(index if where == b"before" else index + 1, args[4])
    client.db.touch(args[1])
    client.server.dirty += 1
    return resp.integer(len(lst))


@command("lpos", -3, "readonly", "list")
def lpos(client, args):
    lst = get_list(client.db, args[1])
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(args):
        opt = args[i].lower()
        if i + 1 >= len(args):
            raise CommandError(SYNTAX)
        if opt == b"rank":
            rank = to_int(args[i + 1])
            if rank == 0:
                raise CommandError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        elif opt == b"count":
            count = to_int(args[i + 1])
            if count < 0:
                raise CommandError("ERR COUNT can't be negative")
        elif opt == b"maxlen":
            maxlen = to_int(args[i + 1])
        else:
            raise CommandError(SYNTAX)
        i += 2
    items = list(lst) if lst is not None else []
    indices = range(len(items)) if rank > 0 else range(len(items) - 1, -1, -1)
    found = []
    skip = abs(rank) - 1
    for n, idx in enumerate(indices):
        if maxlen and n >= maxlen:
            break
        if items[idx] == args[2]:
            if skip:
                skip -= 1
                continue
            found.append(idx)
            if count is None or (count and len(found) >= count):
                break
    if count is None:
        return resp.integer(found[0]) if found else resp.null()
    return resp.array(found)
