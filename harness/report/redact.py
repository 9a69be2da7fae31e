"""Remove secrets from anything the report shows or stores.

Reports are uploaded as CI artifacts and pasted into issues, while suites deliberately run
with `requirepass` / `masterauth` and may point at a Toxiproxy or container registry URL with
credentials. Redaction happens once, when a record is built, so results.json, history and
HTML can never disagree about what was hidden.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Words that follow `requirepass`/`masterauth`/`AUTH` in prose ("masterauth on the replica",
# "AUTH failed"), never as a value: masking them would garble docstrings and messages.
_PROSE = ("on", "in", "the", "a", "an", "and", "or", "is", "are", "was", "were", "to", "of", "for",
          "with", "at", "by", "from", "must", "should", "set", "not", "no", "only",
          "missing", "mismatch", "changed", "change", "flips", "fixes", "it", "that", "this", "value",
          "failed", "fails", "works", "required", "needed", "links", "keeps", "then", "but")
_NOT_PROSE = r"(?!(?:" + "|".join(_PROSE) + r")\b)"
_NOT_PROSE_ANY_CASE = r"(?!(?i:" + "|".join(_PROSE) + r")\b)"

_PATTERNS: list[tuple[re.Pattern[str], str | None]] = [
    # conf lines and CONFIG SET / command arguments: `requirepass s3cret`, `masterauth "x y"`
    (re.compile(r"(?i)\b(requirepass|masterauth|masterpass|auth-pass)(\s+|=|:\s*)" + _NOT_PROSE
                + r"(\"[^\"]*\"|'[^']*'|\S+)"),
     rf"\1\2{MASK}"),
    # CLI options: --password=x, --redis-password x, --masterauth=x
    (re.compile(r"(?i)(--[\w-]*(?:password|passwd|secret|token|masterauth|requirepass)[\w-]*)(=|\s+)(\S+)"),
     rf"\1\2{MASK}"),
    # key=value / key: value pairs in dict reprs, env dumps and logs
    (re.compile(r"(?i)([\"']?\b[\w-]*(?:password|passwd|secret|token)[\w-]*[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;}&]+)"),
     rf"\1{MASK}"),
    # URLs with credentials: scheme://user:pass@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):([^@/\s]+)@"), rf"\1:{MASK}@"),
    # the AUTH command as it appears in MONITOR output or error messages
    (re.compile(r'((?:\bAUTH|(?i:"auth"))[ \t]+)' + _NOT_PROSE_ANY_CASE
                + r'(?:("[^"]*"|[^\s"]+)[ \t]+)?("[^"]*"|[^\s"]+)'), None),
]


def _auth(match: re.Match[str]) -> str:
    prefix, user = match.group(1), match.group(2)
    if user:
        return f"{prefix}{user} {MASK}"
    return f"{prefix}{MASK}"


def redact(text: str) -> str:
    """Mask secret values in free text; everything else is left as it was."""
    if not text:
        return text
    for pattern, repl in _PATTERNS:
        if repl is None:
            text = pattern.sub(_auth, text)
        else:
            text = pattern.sub(repl, text)
    return text


_SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|requirepass|masterauth)")


def redact_value(value: Any, key: str = "") -> Any:
    """Redact strings inside JSON-like data; values under secret-looking keys are masked whole."""
    if key and _SECRET_KEY.search(key) and value not in (None, "", [], {}):
        if isinstance(value, str | int | float):
            return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
