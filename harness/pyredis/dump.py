"""DUMP / RESTORE payloads, byte-compatible with redis-server 6.2, 7.0 and 8.2.

Layout: object type byte, the value exactly as in an RDB, the 2-byte RDB version (LE), then
CRC-64 (LE) of everything before it. Unlike RDB files, a zero CRC is *not* a "disabled" marker
here: Redis always verifies it, so we do too. Errors carry Redis's exact reply text so the
server can send `-ERR <message>` verbatim.
"""

from __future__ import annotations

import struct

from harness.pyredis.crc64 import crc64
from harness.pyredis.rdb import (
    RDB_MAX_VERSION,
    RdbError,
    _Dropped,
    _HashWithTtls,
    _is_empty,
    _Truncated,
    encode_object,
    read_object,
)
from harness.pyredis.values import Value

VERSION_OR_CHECKSUM = "DUMP payload version or checksum are wrong"
BAD_DATA_FORMAT = "Bad data format"


class DumpPayloadError(Exception):
    """RESTORE must fail; str(exc) is the text Redis puts after `-ERR `."""


def dump_payload(value: Value, rdb_version: int = 9) -> bytes:
    """The DUMP reply for `value`; version 9 with plain types RESTOREs on 6.2, 7.0 and 8.2."""
    t, body = encode_object(value)
    blob = bytes((t,)) + body + struct.pack("<H", rdb_version)
    return blob + struct.pack("<Q", crc64(0, blob))


def restore_payload(payload: bytes, max_version: int = RDB_MAX_VERSION) -> Value:
    """Decode a DUMP payload the way RESTORE does (verify version and CRC, then the value).

    `max_version` is the RDB version the emulated server claims: a 6.2-like node passes 9 to
    refuse newer payloads exactly as real 6.2 does.
    """
    payload = bytes(payload)
    if len(payload) < 10:
        raise DumpPayloadError(VERSION_OR_CHECKSUM)
    footer = len(payload) - 10
    version = struct.unpack_from("<H", payload, footer)[0]
    if version > max_version:
        raise DumpPayloadError(VERSION_OR_CHECKSUM)
    stored = struct.unpack_from("<Q", payload, footer + 2)[0]
    if crc64(0, memoryview(payload)[: footer + 2]) != stored:
        raise DumpPayloadError(VERSION_OR_CHECKSUM)
    body = payload[:footer]
    if not body:
        raise DumpPayloadError(BAD_DATA_FORMAT)
    try:
        value, _end = read_object(body, 1, body[0])
    except (RdbError, _Truncated, IndexError, struct.error):
        raise DumpPayloadError(BAD_DATA_FORMAT) from None
    if isinstance(value, _Dropped):
        raise DumpPayloadError(f"{BAD_DATA_FORMAT}: {value.reason.split(' (')[0]} is not supported")
    if isinstance(value, _HashWithTtls):
        value = value.hash
    if _is_empty(value):
        raise DumpPayloadError(BAD_DATA_FORMAT)
    return value
