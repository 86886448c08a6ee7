"""Timestamps stored as fixed-width UTC ISO strings so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime

from core.models import as_utc

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(value: datetime) -> str:
    return as_utc(value).strftime(_FMT)


def from_iso(value: str) -> datetime:
    return datetime.strptime(value, _FMT).replace(tzinfo=UTC)
