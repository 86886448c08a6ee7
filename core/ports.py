"""Ports: the two protocols every backend implements (contract-tested in tests/)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from core.models import FeedState, Prediction, PutResult, Signal, SignalPage, SummaryBucket


@runtime_checkable
class Classifier(Protocol):
    @property
    def model_version(self) -> str: ...

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Classify texts in batches; one Prediction per text, in order."""
        ...


@runtime_checkable
class TargetedClassifier(Protocol):
    """A classifier that also gives the sentiment toward spans of each text (the companies
    it names), from the same model run as the text's own prediction."""

    @property
    def targeted(self) -> bool:
        """False where the model has no entity head (spans then take the text's)."""
        ...

    def classify_targets(self, items: Sequence[tuple[str, Sequence[tuple[int, int]]]]
                         ) -> list[tuple[Prediction, list[Prediction]]]: ...


@runtime_checkable
class SignalStore(Protocol):
    def put_many(self, signals: Iterable[Signal]) -> PutResult:
        """Write signals; a signal_id is written at most once (repeats count as duplicates)."""
        ...

    def existing_ids(self, signal_ids: Iterable[str]) -> set[str]:
        """The subset of signal_ids already stored."""
        ...

    def existing_link_keys(self, link_keys: Iterable[str]) -> set[str]:
        """The subset of link keys (see Article.link_key) that a stored signal has."""
        ...

    def get(self, signal_id: str) -> Signal | None: ...

    def query(self, *, source: str | None = None, ticker: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              limit: int = 100, cursor: str | None = None,
              distinct_story: bool = False, role: str | None = None,
              event: str | None = None, model_version: str | None = None,
              as_of: datetime | None = None) -> SignalPage:
        """Newest first by first_seen_at, since <= t < until, paginated by an opaque cursor.

        distinct_story: only each story's earliest sighting (within the source filter).
        ticker: the signals naming that company as subject or mentioned (never as rater);
        role narrows to one of the two. event: only signals tagged with that event kind.
        model_version: each signal with that version's score, those without one left out;
        as_of: first sightings up to that instant with their first score only (with
        model_version: only those whose first score is by it)."""
        ...

    def latest(self, n: int = 20) -> list[Signal]: ...

    def summary(self, *, source: str | None = None, ticker: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                bucket_seconds: int = 3600, role: str | None = None,
                event: str | None = None, model_version: str | None = None,
                as_of: datetime | None = None) -> list[SummaryBucket]:
        """Counts per label and mean score per time bucket, oldest first. With a ticker, the
        label and score are the sentiment toward that company (its entity's), where known."""
        ...

    def get_feed_states(self) -> dict[str, FeedState]:
        """Every feed's state; `signals_written` counts the feed's stored signals (kept by
        put_many in the same write), `items_seen` the increments add_items_seen made."""
        ...

    def put_feed_state(self, state: FeedState) -> None:
        """Save the state. Counters are set only when the feed has no state yet; afterwards
        they change by increments alone, so two writers never lose each other's counts."""
        ...

    def add_items_seen(self, feed_id: str, n: int) -> None:
        """Atomically add n to the feed's items_seen."""
        ...

    def health(self) -> dict[str, object]: ...

    def close(self) -> None: ...


@runtime_checkable
class SignalLog(Protocol):
    """A store that can replay what it stored in store order (SQLite: its row ids). Live
    streams with Last-Event-ID resume need it; DynamoDB streams through DynamoDB Streams."""

    def signals_after(self, seq: int, limit: int = 1000) -> list[tuple[int, Signal]]:
        """Signals stored after position `seq`, oldest first, with their positions."""
        ...

    def last_seq(self) -> int:
        """The position of the newest stored signal (0: none)."""
        ...


@runtime_checkable
class VersionedStore(Protocol):
    """Scores by model version: rescoring, coverage and the active version (issue 35).
    The first score of a signal (what was known when it was first seen) never changes."""

    def missing(self, model_version: str, *, source: str | None = None,
                ticker: str | None = None, since: datetime | None = None,
                until: datetime | None = None, role: str | None = None,
                event: str | None = None, as_of: datetime | None = None) -> int: ...

    def unscored(self, model_version: str, *, source: str | None = None,
                 ticker: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, after: tuple[str, str] | None = None,
                 limit: int = 256) -> list[Signal]: ...

    def put_scores(self, scored: Iterable[Signal]) -> int: ...

    def scores(self, signal_ids: Iterable[str], version: str) -> dict[str, Signal]: ...

    def versions(self) -> tuple[int, list[dict[str, Any]]]: ...

    def active_version(self) -> str | None: ...

    def set_active_version(self, version: str, *, coverage: float, forced: bool) -> None: ...

    def version_log(self) -> list[dict[str, Any]]: ...
