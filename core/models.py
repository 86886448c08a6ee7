"""Domain models shared by every adapter: Sentiment, Prediction, Article, Signal."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.names import LABELS
from core.text import make_link_key, make_signal_id, make_story_id, normalise_text


class Sentiment(StrEnum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


assert tuple(s.value for s in Sentiment) == LABELS  # one order everywhere

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class Probabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    negative: Probability
    neutral: Probability
    positive: Probability

    @classmethod
    def from_sequence(cls, values: list[float] | tuple[float, ...]) -> Probabilities:
        return cls(**{label: float(v) for label, v in zip(LABELS, values, strict=True)})

    def as_list(self) -> list[float]:
        return [self.negative, self.neutral, self.positive]


class Prediction(BaseModel):
    """One classifier output: the label, all three probabilities and a signed score."""

    model_config = ConfigDict(frozen=True)

    label: Sentiment
    probabilities: Probabilities
    score: Annotated[float, Field(ge=-1.0, le=1.0)]
    model_version: str

    @classmethod
    def from_probabilities(cls, probs: list[float] | tuple[float, ...],
                           model_version: str) -> Prediction:
        p = Probabilities.from_sequence(probs)
        values = p.as_list()
        label = LABELS[max(range(len(LABELS)), key=values.__getitem__)]
        score = max(-1.0, min(1.0, p.positive - p.negative))
        return cls(label=Sentiment(label), probabilities=p, score=score,
                   model_version=model_version)


def _normalise_tickers(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        t = v.strip().lstrip("$").upper()
        if t and t not in out:
            out.append(t)
    return out


class Article(BaseModel):
    """A feed item after normalisation, before classification."""

    source_id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    link: str | None = None
    guid: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    first_seen_at: datetime = Field(default_factory=utcnow)
    tickers: list[str] = Field(default_factory=list)
    #: Data-quality flags, e.g. "published_in_future" (published_at kept as the feed gave it).
    flags: list[str] = Field(default_factory=list)

    @field_validator("title", mode="before")
    @classmethod
    def _norm_title(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("summary", mode="before")
    @classmethod
    def _norm_summary(cls, v: str | None) -> str | None:
        return normalise_text(v) or None

    @field_validator("tickers")
    @classmethod
    def _norm_tickers(cls, v: list[str]) -> list[str]:
        return _normalise_tickers(v)

    @field_validator("published_at", "first_seen_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return as_utc(v) if v is not None else None

    @property
    def signal_id(self) -> str:
        return make_signal_id(self.source_id, self.guid, self.link, self.title)

    @property
    def story_id(self) -> str:
        return make_story_id(self.title)

    @property
    def link_key(self) -> str | None:
        return make_link_key(self.source_id, self.link)


class Signal(BaseModel):
    """A classified article: what the store keeps and the API serves."""

    signal_id: str
    story_id: str
    source_id: str
    title: str
    link: str | None = None
    guid: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    first_seen_at: datetime
    scored_at: datetime
    tickers: list[str] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    label: Sentiment
    probabilities: Probabilities
    score: float
    model_version: str

    @model_validator(mode="after")
    def _utc_times(self) -> Signal:
        for name in ("published_at", "first_seen_at", "scored_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_utc(value))
        return self

    @classmethod
    def from_article(cls, article: Article, prediction: Prediction,
                     scored_at: datetime | None = None) -> Signal:
        return cls(
            signal_id=article.signal_id,
            story_id=article.story_id,
            source_id=article.source_id,
            title=article.title,
            link=article.link,
            guid=article.guid,
            summary=article.summary,
            published_at=article.published_at,
            first_seen_at=article.first_seen_at,
            scored_at=scored_at or utcnow(),
            tickers=list(article.tickers),
            flags=list(article.flags),
            label=prediction.label,
            probabilities=prediction.probabilities,
            score=prediction.score,
            model_version=prediction.model_version,
        )


class FeedState(BaseModel):
    """What the service remembers about one feed between passes (kept in the store)."""

    feed_id: str
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    items_seen: int = 0
    signals_written: int = 0
    next_attempt_at: datetime | None = None


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    url: str = Field(min_length=1)
    name: str | None = None
    tickers: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return v

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, v: object) -> tuple[str, ...]:
        if isinstance(v, str):
            v = [v]
        return tuple(str(t).strip().lstrip("$").upper() for t in (v or []) if str(t).strip())


class PutResult(BaseModel):
    written: int = 0
    duplicates: int = 0


class SignalPage(BaseModel):
    items: list[Signal]
    next_cursor: str | None = None


class SummaryBucket(BaseModel):
    start: datetime
    counts: dict[str, int]
    total: int
    mean_score: float | None
