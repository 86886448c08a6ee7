"""One ingestion pass over many feeds: fetch concurrently, dedup, classify, write."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
from pydantic import BaseModel, Field

from core.errors import ClassifierError, StoreError
from core.models import Article, Signal, utcnow
from core.ports import Classifier, SignalStore
from ingest.feeds import FeedConfig
from ingest.fetch import FetchError, fetch_feed, make_client
from ingest.parse import ParseError, parse_feed

log = logging.getLogger(__name__)


class FeedFailure(BaseModel):
    id: str
    url: str
    reason: str


class FeedResult(BaseModel):
    id: str
    ok: bool
    entries_seen: int = 0
    skipped_no_title: int = 0
    signals_written: int = 0
    duplicates: int = 0
    error: str | None = None


class IngestSummary(BaseModel):
    """The one JSON line `newsig ingest --once` prints."""

    feeds_ok: int = 0
    feeds_failed: list[FeedFailure] = Field(default_factory=list)
    entries_seen: int = 0
    signals_written: int = 0
    duplicates: int = 0
    skipped_no_title: int = 0
    pending: int = 0
    errors: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    feeds: list[FeedResult] = Field(default_factory=list)


@dataclass
class _Fetched:
    feed: FeedConfig
    articles: list[Article]
    skipped: int
    error: str | None = None


class Ingestor:
    """Runs ingestion passes; safe to call repeatedly (a stored signal is never re-written)."""

    def __init__(self, classifier: Classifier, store: SignalStore, *, timeout: float = 10.0,
                 max_bytes: int = 5 * 1024 * 1024, concurrency: int = 8,
                 classify_chunk: int = 256, client: httpx.Client | None = None) -> None:
        self.classifier = classifier
        self.store = store
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.classify_chunk = classify_chunk
        self._client = client

    def _fetch_one(self, client: httpx.Client, feed: FeedConfig) -> _Fetched:
        try:
            body = fetch_feed(client, feed.url, max_bytes=self.max_bytes, timeout=self.timeout)
            articles, skipped = parse_feed(feed.id, body, tickers=feed.tickers, now=utcnow())
            return _Fetched(feed, articles, skipped)
        except (FetchError, ParseError) as exc:
            return _Fetched(feed, [], 0, str(exc))
        except Exception as exc:  # one bad feed never stops the others
            log.exception("feed %s failed unexpectedly", feed.id)
            return _Fetched(feed, [], 0, f"{type(exc).__name__}: {exc}")

    def fetch_all(self, feeds: Sequence[FeedConfig]) -> list[_Fetched]:
        client = self._client or make_client(self.timeout)
        try:
            with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(feeds)))) as ex:
                return list(ex.map(lambda f: self._fetch_one(client, f), feeds))
        finally:
            if self._client is None:
                client.close()

    def run_once(self, feeds: Sequence[FeedConfig]) -> IngestSummary:
        started = time.monotonic()
        summary = IngestSummary()
        if not feeds:
            return summary
        fetched = self.fetch_all(feeds)

        results: dict[str, FeedResult] = {}
        new: list[Article] = []
        pending_ids: set[str] = set()
        for f in fetched:
            res = FeedResult(id=f.feed.id, ok=f.error is None, error=f.error,
                             entries_seen=len(f.articles) + f.skipped, skipped_no_title=f.skipped)
            results[f.feed.id] = res
            if f.error:
                summary.feeds_failed.append(FeedFailure(id=f.feed.id, url=f.feed.url,
                                                        reason=f.error))
                continue
            summary.feeds_ok += 1
            ids = [a.signal_id for a in f.articles]
            try:
                stored = self.store.existing_ids(ids)
            except StoreError as exc:
                summary.errors.append(f"{f.feed.id}: store lookup failed: {exc}")
                stored = set()
            for article, sid in zip(f.articles, ids, strict=True):
                if sid in stored or sid in pending_ids:
                    res.duplicates += 1
                else:
                    pending_ids.add(sid)
                    new.append(article)

        self._classify_and_write(new, results, summary)
        for res in results.values():
            summary.entries_seen += res.entries_seen
            summary.duplicates += res.duplicates
            summary.skipped_no_title += res.skipped_no_title
            summary.signals_written += res.signals_written
        summary.feeds = list(results.values())
        summary.duration_s = round(time.monotonic() - started, 3)
        return summary

    def _classify_and_write(self, new: list[Article], results: dict[str, FeedResult],
                            summary: IngestSummary) -> None:
        """Chunk by chunk: a failure leaves later items unwritten, to be picked up next run."""
        for start in range(0, len(new), self.classify_chunk):
            chunk = new[start:start + self.classify_chunk]
            try:
                predictions = self.classifier.classify([a.title for a in chunk])
            except ClassifierError as exc:
                summary.pending += len(new) - start
                summary.errors.append(f"classifier failed, {len(new) - start} items left for "
                                      f"the next run: {exc}")
                return
            scored_at = utcnow()
            by_feed: dict[str, list[Signal]] = {}
            for a, p in zip(chunk, predictions, strict=True):
                by_feed.setdefault(a.source_id, []).append(Signal.from_article(a, p, scored_at))
            for feed_id, signals in by_feed.items():
                try:
                    put = self.store.put_many(signals)
                except StoreError as exc:
                    summary.pending += len(signals)
                    summary.errors.append(f"{feed_id}: store write failed, {len(signals)} "
                                          f"items left for the next run: {exc}")
                    continue
                results[feed_id].signals_written += put.written
                results[feed_id].duplicates += put.duplicates
