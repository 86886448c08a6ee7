"""The use cases, over the two ports. Every entry point (HTTP routes, the ingest pass, the
Lambda handlers, the CLI) makes one call into a SignalService; adapters only store or classify.

- `record(articles)`: deduplicate once (within the batch, then against the store by signal id
  and by canonical link), classify in chunks, write each chunk with the one retry policy.
  What could not be classified or written is counted as pending, never dropped silently.
- `classify(texts)`: predictions in input order.
- `signals(query)`, `summary(query)`: validated queries (core.queries) against the store.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from core.errors import (
    ClassifierError,
    ConfigError,
    InvalidInputError,
    NewsSignalsError,
    StoreError,
)
from core.feedhealth import FeedHealth, feed_health
from core.models import (
    Article,
    Entity,
    EntityMention,
    FeedConfig,
    FeedState,
    Prediction,
    PutResult,
    Signal,
    SignalPage,
    SummaryBucket,
    utcnow,
)
from core.ports import Classifier, SignalStore, TargetedClassifier, VersionedStore
from core.queries import SignalsQuery, SummaryQuery
from core.retry import RetryPolicy

if TYPE_CHECKING:
    from core.entities import Linker


def with_events(texts: Sequence[str], predictions: list[Prediction]) -> list[Prediction]:
    """Each prediction with the event kinds (core.events) of its text, and its tier (a
    classifier outside the accurate tier's cascade is the fast tier)."""
    from core.events import tag_cached

    return [p.model_copy(update={"events": list(tag_cached(t)), "tier": p.tier or "fast"})
            for t, p in zip(texts, predictions, strict=True)]


class RejectedItem(BaseModel):
    signal_id: str
    title: str
    reason: str


class RecordResult(BaseModel):
    """What became of a batch of articles."""

    written: int = 0
    duplicates: int = 0
    pending: int = 0
    #: Items the store can never hold (reported, not retried, not pending).
    rejected: list[RejectedItem] = Field(default_factory=list)
    labels: dict[str, int] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)
    classify_s: float = 0.0


class SummaryResult(BaseModel):
    bucket_seconds: int
    buckets: list[SummaryBucket]
    model_version: str | None = None
    missing: int | None = None


class Health(BaseModel):
    status: str
    model_version: str | None
    model_error: str | None = None
    store: dict[str, object]
    #: "fast" or "accurate" (the cascade), and then each tier's model version and the
    #: cascade's counters (texts, escalated, teacher_failures).
    tier: str | None = None
    model_versions: dict[str, str] | None = None
    cascade: dict[str, int] | None = None


class SignalService:
    def __init__(self, store: SignalStore | None, classifier: Classifier | None = None, *,
                 classifier_factory: Callable[[], Classifier] | None = None,
                 retry: RetryPolicy | None = None, chunk: int = 256,
                 clock: Callable[[], datetime] = utcnow,
                 linker_factory: Callable[[], Linker] | None = None) -> None:
        self._store = store
        self._classifier = classifier
        self._factory = classifier_factory
        self._linker: Linker | None = None
        self._linker_factory = linker_factory
        self._lock = threading.Lock()
        self.retry = retry or RetryPolicy()
        self.chunk = max(1, chunk)
        self.clock = clock

    @property
    def store(self) -> SignalStore:
        if self._store is None:
            raise ConfigError("no signal store configured")
        return self._store

    # -- the classifier, built on first use --------------------------------------------
    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    if self._factory is None:
                        raise ConfigError("no classifier configured")
                    self._classifier = self._factory()
        return self._classifier

    @property
    def classifier_ready(self) -> bool:
        return self._classifier is not None

    @property
    def linker_ready(self) -> bool:
        return self._linker is not None

    @property
    def linker(self) -> Linker:
        """The entity linker (core.entities), built on first use from the packaged universe
        (and the user's ticker table where configured)."""
        if self._linker is None:
            with self._lock:
                if self._linker is None:
                    if self._linker_factory is None:
                        from core.entities import default_linker

                        self._linker_factory = default_linker
                    self._linker = self._linker_factory()
        return self._linker

    # -- use cases -----------------------------------------------------------------------
    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions in input order, each with the event kinds its text reports."""
        return with_events(texts, self.retry.call(lambda: self.classifier.classify(list(texts))))

    def entities(self, texts: Sequence[str]) -> list[list[EntityMention]]:
        """The companies each text names, with their roles (core.entities)."""
        return [self.linker.link(t)[0] for t in texts]

    @property
    def targeted(self) -> bool:
        """Whether the classifier gives the sentiment toward each company (else each
        company takes its text's)."""
        clf = self.classifier
        return isinstance(clf, TargetedClassifier) and clf.targeted

    def score(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
              ) -> list[tuple[Prediction, list[Prediction]]]:
        """Each text's prediction and the sentiment toward each of its spans: one model run
        per text with a targeted classifier; otherwise the text's prediction for each."""
        if self.targeted and any(spans):
            clf = self.classifier
            assert isinstance(clf, TargetedClassifier)
            items = list(zip(texts, spans, strict=True))
            scored = self.retry.call(lambda: clf.classify_targets(items))
            heads = with_events(texts, [p for p, _ in scored])
            return [(h, per) for h, (_, per) in zip(heads, scored, strict=True)]
        return [(p, [p] * len(s)) for p, s in zip(self.classify(texts), spans, strict=True)]

    def analyse(self, texts: Sequence[str]) -> list[tuple[Prediction, list[Entity]]]:
        """Each text's prediction and the companies it names, each with the sentiment
        toward it."""
        found = self.entities(texts)
        scored = self.score(texts, [[m.span for m in f] for f in found])
        return [(p, [Entity.of(m, q) for m, q in zip(f, per, strict=True)])
                for (p, per), f in zip(scored, found, strict=True)]

    def new_articles(self, articles: Sequence[Article]) -> tuple[list[Article], int]:
        """The articles not yet stored, and how many were duplicates.

        Same signal id, or same canonical link as a stored item (a GUID that changed while
        the link did not), or, inside the batch, the same link and the same title under a
        new GUID. A link shared by items with different titles identifies nothing."""
        ids = [a.signal_id for a in articles]
        keys = [a.link_key for a in articles]
        titles_per_link: dict[str, set[str]] = {}
        for a, key in zip(articles, keys, strict=True):
            if key:
                titles_per_link.setdefault(key, set()).add(a.story_id)
        identifying = {k for k, titles in titles_per_link.items() if len(titles) == 1}
        stored_ids = self.retry.call(lambda: self.store.existing_ids(ids))
        stored_links = self.retry.call(lambda: self.store.existing_link_keys(identifying))
        seen_ids: set[str] = set()
        seen_links: set[str] = set()
        new: list[Article] = []
        for article, sid, key in zip(articles, ids, keys, strict=True):
            linked = key in identifying
            if sid in stored_ids or sid in seen_ids or (linked and (
                    key in stored_links or key in seen_links)):
                continue
            seen_ids.add(sid)
            if linked and key:
                seen_links.add(key)
            new.append(article)
        return new, len(articles) - len(new)

    def record(self, articles: Sequence[Article]) -> RecordResult:
        """Classify and store new articles, chunk by chunk. A failure leaves the rest
        pending (reported in `errors`) for the next pass."""
        result = RecordResult()
        if not articles:
            return result
        try:
            new, result.duplicates = self.new_articles(articles)
        except StoreError as exc:
            result.pending = len(articles)
            result.errors.append(f"store lookup failed, {len(articles)} items left for the "
                                 f"next run: {exc}")
            return result
        for start in range(0, len(new), self.chunk):
            chunk = new[start:start + self.chunk]
            left = len(new) - start
            began = time.perf_counter()
            try:
                scored = self.score([a.title for a in chunk],
                                    [[e.span for e in a.entities] for a in chunk])
            except ClassifierError as exc:
                result.pending += left
                result.errors.append(f"classifier failed, {left} items left for the next "
                                     f"run: {exc}")
                return result
            result.classify_s = round(result.classify_s + time.perf_counter() - began, 4)
            scored_at = self.clock()
            signals = [Signal.from_article(a, p, scored_at, entity_predictions=per)
                       for a, (p, per) in zip(chunk, scored, strict=True)]
            if getattr(self.classifier, "versions", None):  # a cascade: the tier's version
                tier_version = self.classifier.model_version
                signals = [s.model_copy(update={"model_version": tier_version})
                           for s in signals]
            error = self._write(signals, result)
            if error is not None:
                result.pending += left - len(signals) + error[0]
                result.errors.append(f"store write failed, {left - len(signals) + error[0]} "
                                     f"items left for the next run: {error[1]}")
                return result
        return result

    def _write(self, signals: list[Signal], result: RecordResult) -> tuple[int, str] | None:
        """Write with the retry policy, retrying only what was not written. Counts what was
        written into `result`; returns (how many are left, why) if some never were."""
        todo = signals
        delays = self.retry.delays()
        while True:
            try:
                put = self.store.put_many(todo)
            except StoreError as exc:
                put = PutResult(failed=[s.signal_id for s in todo], error=str(exc),
                                retryable=isinstance(exc, self.retry.retry_on))
            result.written += put.written
            result.duplicates += put.duplicates
            result.rejected += [RejectedItem(signal_id=s.signal_id, title=s.title[:120],
                                             reason=put.rejected[s.signal_id][:300])
                                for s in todo if s.signal_id in put.rejected]
            failed = set(put.failed)
            if not put.duplicates:  # exact per-label counts (a racing writer makes them vague)
                for sig in todo:
                    if sig.signal_id not in failed:
                        result.labels[sig.label.value] = result.labels.get(sig.label.value,
                                                                           0) + 1
            todo = [s for s in todo if s.signal_id in failed]
            if not todo:
                return None
            delay = next(delays, None) if put.retryable else None
            if delay is None:
                return len(todo), put.error or "write failed"
            self.retry.sleep(delay)

    # -- versions: which model's scores a query reads ------------------------------------
    def version_for(self, requested: str | None) -> str | None:
        """The version a query reads: the one requested (a 422 naming it if no signal has a
        score by it) or the store's active one; None for a store without versions."""
        store = self.store
        if not isinstance(store, VersionedStore):
            if requested:
                raise InvalidInputError("this store keeps one score per signal: "
                                        "model_version is not supported", field="model_version")
            return None
        if requested is None:
            return store.active_version()
        _, known = store.versions()
        if requested not in {v["version"] for v in known}:
            raise InvalidInputError(f"unknown model_version {requested!r}: no stored signal "
                                    "has a score by it (newsig versions lists them)",
                                    field="model_version")
        return requested

    def _missing(self, version: str | None, query: SignalsQuery | SummaryQuery) -> int | None:
        store = self.store
        if version is None or not isinstance(store, VersionedStore):
            return None
        return store.missing(version, source=query.source, ticker=query.ticker,
                             since=query.since, until=query.until, role=query.role,
                             event=query.event, as_of=query.as_of)

    def signals(self, query: SignalsQuery) -> SignalPage:
        version = self.version_for(query.model_version)
        page = self.store.query(source=query.source, ticker=query.ticker, since=query.since,
                                until=query.until, limit=query.limit, cursor=query.cursor,
                                distinct_story=query.distinct == "story", role=query.role,
                                event=query.event, model_version=version, as_of=query.as_of)
        return page.model_copy(update={"model_version": version,
                                       "missing": self._missing(version, query)})

    def summary(self, query: SummaryQuery) -> SummaryResult:
        seconds = query.bucket_seconds
        version = self.version_for(query.model_version)
        buckets = self.store.summary(source=query.source, ticker=query.ticker,
                                     since=query.since, until=query.until,
                                     bucket_seconds=seconds, role=query.role,
                                     event=query.event, model_version=version,
                                     as_of=query.as_of)
        return SummaryResult(bucket_seconds=seconds, buckets=buckets, model_version=version,
                             missing=self._missing(version, query))

    # -- feed state: what the service remembers about each feed between passes ------------
    def feed_states(self) -> dict[str, FeedState]:
        return self.store.get_feed_states()

    def feed_failed(self, state: FeedState, reason: str, *, backoff_base: float,
                    backoff_cap: float) -> list[str]:
        """Record a failed attempt: the failure count grows and the next attempt backs off
        exponentially (base * 2^(n-1), capped). Returns what could not be saved."""
        n = state.consecutive_failures + 1
        backoff = min(backoff_base * 2 ** (n - 1), backoff_cap)
        return self._save_state(state.model_copy(update={
            "last_error": reason, "consecutive_failures": n,
            "next_attempt_at": state.last_attempt_at + timedelta(seconds=backoff)
            if state.last_attempt_at else None}))

    def feed_succeeded(self, state: FeedState, *, etag: str | None, last_modified: str | None,
                       complete: bool, interval: float | None, items_seen: int) -> list[str]:
        """Record a successful fetch. The validators (ETag, Last-Modified) are kept only when
        every new item was written (`complete`): otherwise the feed is fetched in full next
        time, so nothing pending hides behind a 304. Returns what could not be saved."""
        update: dict[str, object] = {
            "last_success_at": state.last_attempt_at, "last_error": None,
            "consecutive_failures": 0,
            "next_attempt_at": state.last_attempt_at + timedelta(seconds=interval)
            if interval and state.last_attempt_at else None,
            "etag": etag if complete else None,
            "last_modified": last_modified if complete else None,
        }
        errors = self._save_state(state.model_copy(update=update))
        try:
            self.store.add_items_seen(state.feed_id, items_seen)
        except StoreError as exc:
            errors.append(f"{state.feed_id}: items-seen count not saved: {exc}")
        return errors

    def _save_state(self, state: FeedState) -> list[str]:
        try:
            self.store.put_feed_state(state)
        except StoreError as exc:
            return [f"{state.feed_id}: feed state not saved: {exc}"]
        return []

    def feeds(self, feeds: Sequence[FeedConfig]) -> list[FeedHealth]:
        return feed_health(feeds, self.store.get_feed_states())

    def health(self) -> Health:
        """The model's version (building the classifier if needed) and the store's state."""
        model_version, model_error = None, None
        tier: str | None = None
        versions: dict[str, str] | None = None
        cascade: dict[str, int] | None = None
        try:
            clf = self.classifier
            model_version = clf.model_version
            versions = getattr(clf, "versions", None)
            tier = "accurate" if versions else "fast"
            cascade = dict(getattr(clf, "stats", {})) or None
        except NewsSignalsError as exc:
            model_error = str(exc)
        try:
            store = self.store.health()
        except NewsSignalsError as exc:
            store = {"ok": False, "error": str(exc)}
        ok = model_error is None and bool(store.get("ok"))
        return Health(status="ok" if ok else "degraded", model_version=model_version,
                      model_error=model_error, store=store, tier=tier,
                      model_versions=versions, cascade=cascade)
