"""The one pagination cursor codec: an opaque, URL-safe token over a few string fields.

A cursor carries the position (the last item's keys) and a fingerprint of the query it was
issued for, so a cursor from another query, a forged one, or one that does not decode is
refused with a clear InvalidInputError before any backend call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence

from core.errors import InvalidInputError

MAX_CURSOR_CHARS = 2048
_INVALID = "cursor is not one this service issued for this query"


def query_fingerprint(*parts: object) -> str:
    raw = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def encode_cursor(fields: dict[str, str], *, query: str = "") -> str:
    raw = json.dumps({"q": query, "k": fields}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: Sequence[str], *, query: str = "") -> dict[str, str]:
    """The fields of a cursor issued by encode_cursor for the same query and keys."""
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidInputError(_INVALID, field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.b64decode(padded.encode("ascii"), altchars=b"-_",
                                           validate=True))
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError) as exc:
        raise InvalidInputError(_INVALID, field="cursor") from exc
    fields = data.get("k") if isinstance(data, dict) else None
    if (not isinstance(fields, dict) or sorted(fields) != sorted(keys)
            or not all(isinstance(v, str) and v for v in fields.values())
            or data.get("q") != query):
        raise InvalidInputError(_INVALID, field="cursor")
    try:
        for v in fields.values():
            v.encode("utf-8")  # a lone surrogate is no key this service wrote
    except UnicodeEncodeError as exc:
        raise InvalidInputError(_INVALID, field="cursor") from exc
    return fields
