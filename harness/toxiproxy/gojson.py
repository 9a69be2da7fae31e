"""JSON decoding and encoding with Go's `encoding/json` habits.

Toxiproxy decodes request bodies with Go's decoder and clients depend on its quirks: only the
first JSON value is read, keys match case-insensitively, `null` leaves a field alone, integers
reject fractions, and errors read `json: cannot unmarshal ...`. Keeping these rules in one module
lets every handler say "decode this into these typed fields" and get Toxiproxy's answers.
"""

from __future__ import annotations

import json
import math
import re
import struct
from decimal import Decimal
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# Sentinel for "the key was absent or null": the caller keeps its current value.
MISSING: Any = object()


class BodyError(ValueError):
    """The body could not be decoded; the message is what follows `bad request body: `."""


def _reject_constant(name: str) -> Any:
    # Go has no NaN/Infinity literals; Python's json would accept them.
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WS = re.compile(r"[ \t\n\r]*")


def decode_first_value(body: bytes) -> Any:
    """Decode the first JSON value of `body`, ignoring whatever follows it (as Go's Decoder does)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", errors="replace")
    pos = _WS.match(text, 0).end()  # type: ignore[union-attr]
    if pos >= len(text):
        raise BodyError("EOF")
    try:
        value, _end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text):
            raise BodyError("unexpected EOF") from None
        char = text[exc.pos]
        raise BodyError(f"invalid character {char!r} looking for beginning of value") from None
    except ValueError as exc:  # from _reject_constant
        raise BodyError(str(exc)) from None
    except RecursionError:
        raise BodyError("exceeded max depth") from None
    return value


def go_type_name(value: Any) -> str:
    """The JSON type name Go puts into `cannot unmarshal <type> into ...`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _number_text(value: Any) -> str:
    return json.dumps(value)


def unmarshal_error(value: Any, struct_name: str, field: str, go_type: str) -> BodyError:
    kind = go_type_name(value)
    if kind == "number" and go_type.startswith(("int", "float")):
        kind = f"number {_number_text(value)}"  # Go quotes the literal only for numeric targets
    where = f"Go struct field {struct_name}.{field}" if field else "Go value"
    return BodyError(f"json: cannot unmarshal {kind} into {where} of type {go_type}")


def lookup(obj: dict[str, Any], key: str) -> Any:
    """Find `key` like Go does: exact match first, then a case-insensitive one; null → MISSING."""
    if key in obj:
        value = obj[key]
    else:
        lowered = key.lower()
        for k, v in obj.items():
            if k.lower() == lowered:
                value = v
                break
        else:
            return MISSING
    return MISSING if value is None else value


def as_string(obj: dict[str, Any], key: str, struct_name: str) -> Any:
    value = lookup(obj, key)
    if value is MISSING or isinstance(value, str):
        return value
    raise unmarshal_error(value, struct_name, key, "string")


def as_bool(obj: dict[str, Any], key: str, struct_name: str) -> Any:
    value = lookup(obj, key)
    if value is MISSING or isinstance(value, bool):
        return value
    raise unmarshal_error(value, struct_name, key, "bool")


def as_int64(obj: dict[str, Any], key: str, struct_name: str) -> Any:
    """An integer attribute: Go rejects `1.5`, `100.0` and `1e3` alike, and anything past int64."""
    value = lookup(obj, key)
    if value is MISSING:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX:
        return value
    raise unmarshal_error(value, struct_name, key, "int64")


def as_float32(obj: dict[str, Any], key: str, struct_name: str) -> Any:
    value = lookup(obj, key)
    if value is MISSING:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and abs(number) <= 3.4028234663852886e38:
            return to_float32(number)
    raise unmarshal_error(value, struct_name, key, "float32")


def to_float32(number: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", number))[0])


def format_float32(number: float) -> str:
    """Shortest text that reads back as the same float32, in Go's JSON style (`1`, `0.3`)."""
    if number == 0:
        return "0"
    target = to_float32(number)
    text = repr(target)
    for digits in range(1, 10):
        candidate = f"{target:.{digits}g}"
        if to_float32(float(candidate)) == target:
            text = candidate
            break
    absolute = abs(target)
    if 1e-6 <= absolute < 1e21:
        text = format(Decimal(text), "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    else:
        mantissa, _, exp = f"{float(text):e}".partition("e")
        lead = text.split("e")[0] if "e" in text else mantissa.rstrip("0").rstrip(".")
        text = f"{lead}e{int(exp)}"
    return text


def dumps(value: Any) -> str:
    """Compact JSON; floats are assumed to be float32 toxicities and printed the Go way."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return format_float32(value)
    if isinstance(value, dict):
        items = ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__}")
