"""Request and response models of the HTTP API (the public contract)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from core.models import Prediction, Probabilities, Sentiment, Signal, SummaryBucket
from core.names import MAX_HEADLINE_CHARS, MAX_HEADLINES_PER_REQUEST
from core.service import Health

Headline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=MAX_HEADLINE_CHARS)]

HeadlineList = Annotated[list[Headline], Field(min_length=1,
                                                  max_length=MAX_HEADLINES_PER_REQUEST)]


class OriginalQuery(BaseModel):
    """The original project's body: {"query": {"headline": "..."}}."""

    model_config = ConfigDict(extra="forbid")
    headline: Headline


class ClassifyRequest(BaseModel):
    """Exactly one of `headline`, `headlines`, `query.headline` or `inputs`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"headline": "Nokia shares jump after record quarterly profit"},
                     {"headlines": ["Profit warning sends shares lower", "Board meets Monday"]},
                     {"query": {"headline": "Company X misses revenue estimates"}}]})

    headline: Headline | None = None
    headlines: HeadlineList | None = None
    query: OriginalQuery | None = None
    inputs: Headline | HeadlineList | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ClassifyRequest:
        given = [name for name in ("headline", "headlines", "query", "inputs")
                 if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'headline', 'headlines' "
                f"(1-{MAX_HEADLINES_PER_REQUEST} items), 'query.headline' or 'inputs' "
                f"(got {', '.join(given) or 'none'})")
        return self

    def texts(self) -> list[str]:
        if self.headline is not None:
            return [self.headline]
        if self.headlines is not None:
            return list(self.headlines)
        if self.query is not None:
            return [self.query.headline]
        assert self.inputs is not None
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


class PredictionOut(BaseModel):
    text: str
    label: Sentiment
    probabilities: Probabilities
    score: float = Field(description="P(positive) - P(negative), in [-1, 1]")
    model_version: str

    @classmethod
    def of(cls, text: str, p: Prediction) -> PredictionOut:
        return cls(text=text, label=p.label, probabilities=p.probabilities, score=p.score,
                   model_version=p.model_version)


class ClassifyResponse(BaseModel):
    predictions: list[PredictionOut]


class SignalsResponse(BaseModel):
    items: list[Signal]
    next_cursor: str | None = None


HealthResponse = Health


class SummaryResponse(BaseModel):
    bucket_seconds: int
    buckets: list[SummaryBucket]
