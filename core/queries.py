"""Queries over signals, validated once here for every caller (API, CLI, Lambda)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from core.errors import InvalidInputError
from core.events import TAXONOMY
from core.text import normalise_ticker
from core.timeutil import TIMESTAMP_PATTERN, parse_timestamp

MAX_PAGE = 1000
EVENT_KINDS = tuple(k.name for k in TAXONOMY)
#: ISO 8601, naive = UTC, years 1000-9999 (core.timeutil.parse_timestamp).
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]


class TimeRange(BaseModel):
    source: str | None = Field(default=None, max_length=200, description="feed id")
    ticker: str | None = Field(default=None, max_length=50, description="e.g. AAPL or $AAPL")
    since: Timestamp | None = Field(default=None, description="inclusive; ISO 8601, naive = UTC",
                                    json_schema_extra={"pattern": TIMESTAMP_PATTERN})
    until: Timestamp | None = Field(default=None, description="exclusive; ISO 8601, naive = UTC",
                                    json_schema_extra={"pattern": TIMESTAMP_PATTERN})

    role: Literal["subject", "mentioned"] | None = Field(
        default=None, description="with ticker: only signals where that company is the "
                                  "subject (or only mentioned); raters never match a ticker")

    model_version: str | None = Field(
        default=None, max_length=128, pattern=r"^[\w.+:-]+$",
        description="scores by this model version (default: the active one; "
                    "`newsig versions` lists them); signals it has not scored are left out "
                    "and counted in `missing`")
    as_of: Timestamp | None = Field(
        default=None, description="point in time (ISO 8601): the signals first seen by then, "
        "with the score they had then (their first)",
        json_schema_extra={"pattern": TIMESTAMP_PATTERN})
    event: str | None = Field(default=None, max_length=64,
                              description="an event kind of the taxonomy (docs/events.md), "
                                          "e.g. guidance_cut",
                              json_schema_extra={"enum": list(EVENT_KINDS)})

    @field_validator("event")
    @classmethod
    def _event(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if v not in EVENT_KINDS:
            raise InvalidInputError(f"unknown event kind {v!r}; see docs/events.md "
                                    f"({len(EVENT_KINDS)} kinds, e.g. guidance_cut)",
                                    field="event")
        return v

    @field_validator("ticker")
    @classmethod
    def _ticker(cls, v: str | None) -> str | None:
        return normalise_ticker(v) or None if v is not None else None

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.since and self.until and self.since >= self.until:
            raise InvalidInputError("'since' must be before 'until'", field="since")
        if self.role and not self.ticker:
            raise InvalidInputError("'role' needs a 'ticker'", field="role")
        return self


class SignalsQuery(TimeRange):
    limit: int = Field(default=100, ge=1, le=MAX_PAGE)
    cursor: str | None = Field(default=None, max_length=2048,
                               description="next_cursor of the previous page")
    distinct: Literal["story"] | None = Field(
        default=None, description="'story': each story once, at its earliest sighting")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_bucket(value: str) -> int:
    """'300', '5m', '1h', '1d' -> seconds, between one minute and 31 days."""
    text = value.strip().lower()
    try:
        seconds = int(float(text[:-1]) * _UNITS[text[-1]]) if text[-1:] in _UNITS else int(text)
    except (ValueError, IndexError, OverflowError) as exc:
        raise InvalidInputError(f"bucket {value!r}: use seconds or 5m, 1h, 1d",
                                field="bucket") from exc
    if not 60 <= seconds <= 31 * 86400:
        raise InvalidInputError("bucket must be between 1 minute and 31 days", field="bucket")
    return seconds


class SummaryQuery(TimeRange):
    bucket: str = Field(default="1h", max_length=32,
                        description="bucket width: 300, 5m, 1h, 1d ...")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str) -> str:
        parse_bucket(v)
        return v

    @property
    def bucket_seconds(self) -> int:
        return parse_bucket(self.bucket)
