"""Domain models shared by every adapter: Sentiment, Prediction, Article, Signal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.names import (
    LABELS,
    MAX_ENTITIES_PER_SIGNAL,
    MAX_GUID_CHARS,
    MAX_LINK_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TICKERS_PER_SIGNAL,
)
from core.text import (
    make_link_key,
    make_signal_id,
    make_story_id,
    normalise_text,
    normalise_tickers,
    stable_hash,
)


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
    #: Event kinds the text reports (core.events), in taxonomy order; often none.
    events: list[str] = Field(default_factory=list)
    #: Which tier answered: "fast" (the student) or "accurate" (the teacher, in the
    #: cascade); None from a classifier outside a cascade (older stored signals too).
    tier: str | None = None

    @classmethod
    def from_probabilities(cls, probs: list[float] | tuple[float, ...],
                           model_version: str) -> Prediction:
        p = Probabilities.from_sequence(probs)
        values = p.as_list()
        label = LABELS[max(range(len(LABELS)), key=values.__getitem__)]
        score = max(-1.0, min(1.0, p.positive - p.negative))
        return cls(label=Sentiment(label), probabilities=p, score=score,
                   model_version=model_version)


class Role(StrEnum):
    """What a company is to a headline: what the news is about, a broker or rating agency
    giving an opinion on another company, or a counterparty, comparison or source."""

    subject = "subject"
    mentioned = "mentioned"
    rater = "rater"


class EntityMention(BaseModel):
    """A company a headline names: which one, where, and in what role (core.entities)."""

    model_config = ConfigDict(frozen=True)

    ticker: str
    name: str
    cik: int | None = None
    span: tuple[int, int]
    role: Role


class Entity(EntityMention):
    """A mention with the sentiment toward that company (`label`, `probabilities`, `score`,
    and the model that gave it)."""

    label: Sentiment
    probabilities: Probabilities
    score: Annotated[float, Field(ge=-1.0, le=1.0)]

    @classmethod
    def of(cls, mention: EntityMention, prediction: Prediction) -> Entity:
        fields = {k: getattr(mention, k) for k in EntityMention.model_fields}
        return cls(**fields, label=prediction.label,
                   probabilities=prediction.probabilities, score=prediction.score)


def tickers_of(entities: Sequence[EntityMention], extra: Sequence[str] = ()) -> list[str]:
    """Signal.tickers: subjects, then mentioned companies, never a rater; then `extra` (a
    feed's configured tickers), each once."""
    ordered = [e.ticker for e in entities if e.role == Role.subject]
    ordered += [e.ticker for e in entities if e.role == Role.mentioned]
    return list(dict.fromkeys([*ordered, *extra]))


class ArticleFields(BaseModel):
    """What a feed item says about itself: the fields an Article and a Signal share."""

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

    @field_validator("published_at", "first_seen_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return as_utc(v) if v is not None else None

    @property
    def link_key(self) -> str | None:
        """Key of the canonical link within the source (None: the link identifies nothing)."""
        return make_link_key(self.source_id, self.link)


class Article(ArticleFields):
    """A feed item after normalisation, before classification. Normalising happens here,
    once: a Signal built from an Article (or read back from a store) is not normalised again.
    `entities`: the companies its title names (core.entities), at most
    MAX_ENTITIES_PER_SIGNAL (more: flag `entities_capped`)."""

    entities: list[EntityMention] = Field(default_factory=list)

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
        return normalise_tickers(v)

    @model_validator(mode="after")
    def _fit(self) -> Article:
        """Cut what no store could hold, and say so in `flags`."""
        flags = list(self.flags)
        if len(self.entities) > MAX_ENTITIES_PER_SIGNAL:
            object.__setattr__(self, "entities", self.entities[:MAX_ENTITIES_PER_SIGNAL])
            flags.append("entities_capped")
        if len(self.tickers) > MAX_TICKERS_PER_SIGNAL:
            object.__setattr__(self, "tickers", self.tickers[:MAX_TICKERS_PER_SIGNAL])
            flags.append("tickers_capped")
        if self.summary and len(self.summary) > MAX_SUMMARY_CHARS:
            object.__setattr__(self, "summary", self.summary[:MAX_SUMMARY_CHARS - 1] + "…")
            flags.append("summary_truncated")
        if self.link and len(self.link) > MAX_LINK_CHARS:
            object.__setattr__(self, "link", None)
            flags.append("link_dropped")
        if self.guid and len(self.guid) > MAX_GUID_CHARS:
            short = self.guid[:MAX_GUID_CHARS - 17] + "#" + stable_hash(self.guid, length=16)
            object.__setattr__(self, "guid", short)
            flags.append("guid_shortened")
        if flags != self.flags:
            object.__setattr__(self, "flags", list(dict.fromkeys(flags)))
        return self

    @property
    def signal_id(self) -> str:
        return make_signal_id(self.source_id, self.guid, self.link, self.title)

    @property
    def story_id(self) -> str:
        return make_story_id(self.title)


class Signal(ArticleFields):
    """A classified article: what the store keeps and the API serves. `entities`: each company
    the title names, its role and the sentiment toward it (signals stored before entities
    existed have none)."""

    signal_id: str
    story_id: str
    first_seen_at: datetime
    scored_at: datetime
    label: Sentiment
    probabilities: Probabilities
    score: float
    model_version: str
    entities: list[Entity] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)
    tier: str | None = None

    def entity(self, ticker: str) -> Entity | None:
        """This company's entity (never a rater's), if the signal names it."""
        return next((e for e in self.entities if e.ticker == ticker and e.role != Role.rater),
                    None)

    def score_for(self, ticker: str | None) -> float:
        """The sentiment score toward `ticker` (its entity's), else the headline's."""
        found = self.entity(ticker) if ticker else None
        return found.score if found is not None else self.score

    @field_validator("scored_at")
    @classmethod
    def _utc_scored(cls, v: datetime) -> datetime:
        return as_utc(v)

    @classmethod
    def from_article(cls, article: Article, prediction: Prediction,
                     scored_at: datetime | None = None,
                     entity_predictions: Sequence[Prediction] | None = None) -> Signal:
        """The signal of a classified article; each entity takes its own prediction where
        one is given (entity_predictions, one per article.entities), else the headline's."""
        per_entity = list(entity_predictions or [])
        entities = [Entity.of(m, per_entity[i] if i < len(per_entity) else prediction)
                    for i, m in enumerate(article.entities)]
        fields = {k: v for k, v in dict(article).items() if k != "entities"}
        return cls(**fields, signal_id=article.signal_id, story_id=article.story_id,
                   scored_at=scored_at or utcnow(), entities=entities, **dict(prediction))


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
        values = [v] if isinstance(v, str) else list(v or [])  # type: ignore[call-overload]
        return tuple(normalise_tickers(str(t) for t in values))


class PutResult(BaseModel):
    """What a put_many did. A backend that writes signal by signal reports the ones it could
    not write in `failed` (with the first `error`) instead of failing the whole batch, so the
    count of what was written stays exact; `retryable` says whether trying again may help."""

    written: int = 0
    duplicates: int = 0
    failed: list[str] = Field(default_factory=list)
    error: str | None = None
    retryable: bool = True
    #: signal_id -> why the store can never hold it (not retried, not pending).
    rejected: dict[str, str] = Field(default_factory=dict)


class SignalPage(BaseModel):
    items: list[Signal]
    next_cursor: str | None = None
    #: The model version whose scores these are (None: each signal's first score).
    model_version: str | None = None
    #: Signals the filters match that this version has not scored (left out).
    missing: int | None = None


class SummaryBucket(BaseModel):
    start: datetime
    counts: dict[str, int]
    total: int
    mean_score: float | None
