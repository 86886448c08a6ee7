"""Request and response models of the HTTP API (the public contract)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from core.models import Entity, Prediction, Probabilities, Sentiment, Signal, SummaryBucket
from core.names import (
    MAX_ENTITIES_PER_SIGNAL,
    MAX_HEADLINE_CHARS,
    MAX_HEADLINES_PER_REQUEST,
    MAX_TARGET_CHARS,
)
from core.service import Health
from core.text import VISIBLE_CHAR


def _clean(text: str) -> str:
    """Refuse lone surrogates (no valid UTF-8 carries one); trim the text that is served."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("headline is not valid Unicode (lone surrogate)") from None
    return text.strip()


#: 1-1000 characters (as sent) with at least one visible character; served trimmed.
Headline = Annotated[str, StringConstraints(min_length=1, max_length=MAX_HEADLINE_CHARS,
                                            pattern=VISIBLE_CHAR),
                     AfterValidator(_clean)]

HeadlineList = Annotated[list[Headline], Field(min_length=1,
                                                  max_length=MAX_HEADLINES_PER_REQUEST)]

#: A company as the headline writes it: 1-200 characters, to be found in its headline.
Target = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TARGET_CHARS,
                                          pattern=VISIBLE_CHAR), AfterValidator(_clean)]
TargetList = Annotated[list[Target], Field(min_length=1, max_length=MAX_ENTITIES_PER_SIGNAL)]
TargetLists = Annotated[list[TargetList], Field(min_length=1,
                                                max_length=MAX_HEADLINES_PER_REQUEST)]

_BODY_FIELDS = ("headline", "headlines", "query", "inputs")


def _exactly_one_schema(schema: dict[str, Any]) -> None:
    """Say in the OpenAPI schema what the validator enforces: exactly one field, not null."""
    for name in _BODY_FIELDS:
        prop = schema["properties"][name]
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        prop.pop("default", None)
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
    targets = schema["properties"]["targets"]
    targets["anyOf"] = [o for o in targets.get("anyOf", []) if o.get("type") != "null"]
    targets.pop("default", None)
    schema["oneOf"] = [{"required": [name]} for name in _BODY_FIELDS]
    schema["minProperties"], schema["maxProperties"] = 1, 2


class OriginalQuery(BaseModel):
    """The original project's body: {"query": {"headline": "..."}}."""

    model_config = ConfigDict(extra="forbid")
    headline: Headline


class ClassifyRequest(BaseModel):
    """Exactly one of `headline`, `headlines`, `query.headline` or `inputs`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_schema)

    headline: Headline | None = None
    headlines: HeadlineList | None = None
    query: OriginalQuery | None = None
    inputs: Headline | HeadlineList | None = None
    targets: TargetList | TargetLists | None = Field(
        default=None, description="the companies to score the sentiment toward, as written in "
        "the text: a list with one headline, one list per headline with `headlines`")

    @model_validator(mode="after")
    def _exactly_one(self) -> ClassifyRequest:
        given = [name for name in _BODY_FIELDS if name in self.model_fields_set]
        if any(getattr(self, name) is None for name in given):
            raise ValueError(f"{', '.join(n for n in given if getattr(self, n) is None)} "
                             "may not be null")
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'headline', 'headlines' "
                f"(1-{MAX_HEADLINES_PER_REQUEST} items), 'query.headline' or 'inputs' "
                f"(got {', '.join(given) or 'none'})")
        if self.targets is not None:
            self.target_lists()  # checks shape and that each target is in its text
        return self

    def target_lists(self) -> list[list[str]] | None:
        """One list of targets per text, each found in its text; None without targets."""
        if self.targets is None:
            return None
        texts = self.texts()
        nested = bool(self.targets) and isinstance(self.targets[0], list)
        lists: list[list[str]] = ([list(t) for t in self.targets] if nested
                                  else [list(self.targets)])  # type: ignore[arg-type]
        if len(lists) != len(texts):
            raise ValueError(f"targets: give one list of targets per headline ({len(texts)}), "
                             f"not {len(lists)}")
        for i, (text, targets) in enumerate(zip(texts, lists, strict=True)):
            for target in targets:
                if find_target(text, target) is None:
                    raise ValueError(f"target {target[:80]!r} does not occur in headline {i}")
        return lists

    def texts(self) -> list[str]:
        if self.headline is not None:
            return [self.headline]
        if self.headlines is not None:
            return list(self.headlines)
        if self.query is not None:
            return [self.query.headline]
        assert self.inputs is not None
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)


def find_target(text: str, target: str) -> tuple[int, int] | None:
    """[start, end) of the target in the text: as written, else ignoring case."""
    at = text.find(target)
    if at < 0:
        at = text.lower().find(target.lower())
    return None if at < 0 else (at, at + len(target))


class TargetOut(BaseModel):
    target: str
    label: Sentiment
    probabilities: Probabilities
    score: float

    @classmethod
    def of(cls, target: str, p: Prediction) -> TargetOut:
        return cls(target=target, label=p.label, probabilities=p.probabilities, score=p.score)


class PredictionOut(BaseModel):
    text: str
    label: Sentiment
    probabilities: Probabilities
    score: float = Field(description="P(positive) - P(negative), in [-1, 1]")
    model_version: str
    entities: list[Entity] = Field(
        default_factory=list, description="the companies the text names: ticker, name, cik, "
        "span [start, end), role (subject, mentioned, rater) and the sentiment toward each")
    targets: list[TargetOut] | None = Field(
        default=None, description="with `targets` in the request: the sentiment toward each")
    events: list[str] = Field(default_factory=list, description="event kinds the text reports "
                              "(docs/events.md), e.g. guidance_cut; often none")
    tier: str = Field(default="fast", description="which tier answered: fast (the student) "
                      "or accurate (the teacher, in the accurate tier's cascade)")

    @classmethod
    def of(cls, text: str, p: Prediction, entities: list[Entity] | None = None,
           targets: list[TargetOut] | None = None) -> PredictionOut:
        return cls(text=text, label=p.label, probabilities=p.probabilities, score=p.score,
                   model_version=p.model_version, entities=entities or [], targets=targets,
                   events=p.events, tier=p.tier or "fast")


class EventKindOut(BaseModel):
    name: str
    group: str
    polarity: Sentiment = Field(description="the default sentiment for the subject company")
    reason: str


class ClassifyResponse(BaseModel):
    predictions: list[PredictionOut]


class SignalsResponse(BaseModel):
    items: list[Signal]
    next_cursor: str | None = None
    model_version: str | None = Field(default=None, description="whose scores these are")
    missing: int | None = Field(default=None, description="signals the filters match that "
                                "this version has not scored (left out)")


HealthResponse = Health


class SummaryResponse(BaseModel):
    bucket_seconds: int
    buckets: list[SummaryBucket]
    model_version: str | None = None
    missing: int | None = None
