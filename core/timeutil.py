"""Timestamps stored as fixed-width UTC ISO strings so that text order is time order."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from core.errors import InvalidInputError
from core.models import as_utc

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(value: datetime) -> str:
    return as_utc(value).strftime(_FMT)


def from_iso(value: str) -> datetime:
    return datetime.strptime(value, _FMT).replace(tzinfo=UTC)


def encode_cursor(*parts: str) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidInputError("cursor is not one this service issued", field="cursor") from exc
    if not isinstance(parts, list) or len(parts) != n or not all(isinstance(p, str) for p in parts):
        raise InvalidInputError("cursor is not one this service issued", field="cursor")
    return parts
