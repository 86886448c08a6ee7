"""Timestamps stored as fixed-width UTC ISO strings so that text order is time order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from core.models import as_utc

_FMT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(value: datetime) -> str:
    return as_utc(value).strftime(_FMT)


def from_iso(value: str) -> datetime:
    return datetime.strptime(value, _FMT).replace(tzinfo=UTC)


MIN_YEAR, MAX_YEAR = 1000, 9999
EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
#: The OpenAPI pattern of a time parameter (the same rule: a four-digit year 1000-9999).
TIMESTAMP_PATTERN = r"^\s*[1-9][0-9]{3}-"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 date or date-time (naive = UTC) written with a year in 1000-9999, as an
    aware UTC datetime. Numbers are refused ('0.5' is no time anyone means). An offset that
    carries the time past either end (9999-12-31T23:00-05:00) is clamped to that end: as a
    range bound it means the same, and nothing can overflow or sort wrongly as text."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 time: {exc}") from None
    else:
        raise ValueError("use an ISO 8601 time such as 2026-11-20T09:00:00Z")
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"times must be in years {MIN_YEAR}-{MAX_YEAR}")
    try:
        utc = as_utc(parsed)
    except OverflowError:
        return LATEST if parsed.year == MAX_YEAR else EARLIEST
    return min(max(utc, EARLIEST), LATEST)
