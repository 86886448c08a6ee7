"""One ingestion pass over many feeds.

Feeds are fetched concurrently (bounded); each feed is parsed, deduplicated, classified and
written as soon as it arrives, so network and CPU overlap and every commit is small. What the
service remembers per feed (ETag, failures, backoff, totals) lives in the store. A feed's ETag
is saved only once all its new items are written: a failed classification or write can never
hide items behind a later 304.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

import httpx
from pydantic import BaseModel, Field

from core.entities import Linker
from core.errors import StoreError
from core.models import FeedConfig, FeedState, utcnow
from core.service import RejectedItem, SignalService
from core.settings import Settings
from ingest.fetch import FetchError, FetchResult, fetch_feed, make_client
from ingest.parse import ParseError, parse_feed

log = logging.getLogger(__name__)


class FeedFailure(BaseModel):
    id: str
    url: str
    reason: str


class FeedSkipped(BaseModel):
    id: str
    reason: str
    next_attempt_at: datetime | None = None


class FeedResult(BaseModel):
    id: str
    status: str  # ok | not_modified | failed | backing_off
    entries_seen: int = 0
    skipped_no_title: int = 0
    signals_written: int = 0
    duplicates: int = 0
    pending: int = 0
    rejected: int = 0
    truncated: bool = False
    error: str | None = None
    labels: dict[str, int] = Field(default_factory=dict)


class RejectedFeedItem(RejectedItem):
    feed: str


class IngestSummary(BaseModel):
    """The one JSON line `newsig ingest --once` prints."""

    feeds_ok: int = 0
    feeds_not_modified: int = 0
    feeds_failed: list[FeedFailure] = Field(default_factory=list)
    feeds_skipped: list[FeedSkipped] = Field(default_factory=list)
    entries_seen: int = 0
    signals_written: int = 0
    duplicates: int = 0
    skipped_no_title: int = 0
    pending: int = 0
    #: Items a store can never hold: reported here, neither retried nor kept pending (a pass
    #: whose only problems are rejected items succeeds).
    rejected: list[RejectedFeedItem] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    duration_s: float = 0.0
    classify_s: float = 0.0
    labels: dict[str, int] = Field(default_factory=dict)
    feeds: list[FeedResult] = Field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Nothing left pending, and the feeds were reached (at least one answered, or none
        failed): what the "ingestion stopped" alarm counts."""
        return self.pending == 0 and (self.feeds_ok + self.feeds_not_modified > 0
                                      or not self.feeds_failed)


@dataclass
class _Fetched:
    feed: FeedConfig
    result: FetchResult | None = None
    error: str | None = None
    status: int | None = None


class Ingestor:
    """Runs ingestion passes: fetch, parse and feed state here; deduplicating, classifying
    and writing are the use case `SignalService.record`. Safe to repeat (a stored signal is
    never written twice)."""

    def __init__(self, service: SignalService, *, timeout: float = 10.0,
                 max_bytes: int = 5 * 1024 * 1024, concurrency: int = 16,
                 run_timeout: float = 300.0, backoff_base: float = 60.0,
                 backoff_cap: float = 3600.0, interval: float | None = None,
                 linker: Linker | None = None, client: httpx.Client | None = None,
                 allow_private: bool = False,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.allow_private = allow_private
        self.service = service
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.run_timeout = run_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.interval = interval
        self.linker = linker if linker is not None else service.linker
        self._client = client
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, service: SignalService,
                      **overrides: object) -> Ingestor:
        linker = service.linker
        kwargs: dict[str, object] = {
            "timeout": settings.fetch_timeout, "max_bytes": settings.max_feed_bytes,
            "concurrency": settings.fetch_concurrency,
            "run_timeout": settings.ingest_run_timeout,
            "backoff_base": settings.backoff_base, "backoff_cap": settings.backoff_cap,
            "interval": settings.ingest_interval, "linker": linker,
            "allow_private": settings.fetch_allow_private}
        kwargs.update(overrides)
        return cls(service, **kwargs)  # type: ignore[arg-type]

    # -- fetching ------------------------------------------------------------------------
    def _fetch_one(self, client: httpx.Client, feed: FeedConfig, state: FeedState) -> _Fetched:
        # Conditional headers only apply to the URL they were issued for.
        same_url = state.url == feed.url
        try:
            result = fetch_feed(client, feed.url, max_bytes=self.max_bytes, timeout=self.timeout,
                                allow_private=self.allow_private,
                                etag=state.etag if same_url else None,
                                last_modified=state.last_modified if same_url else None)
            return _Fetched(feed, result=result, status=result.status)
        except FetchError as exc:
            return _Fetched(feed, error=str(exc), status=exc.status)
        except Exception as exc:  # one bad feed never stops the others
            log.exception("feed %s failed unexpectedly", feed.id)
            return _Fetched(feed, error=f"{type(exc).__name__}: {exc}")

    # -- one pass ------------------------------------------------------------------------
    def run_once(self, feeds: Sequence[FeedConfig], *, force: bool = False) -> IngestSummary:
        started = time.monotonic()
        summary = IngestSummary()
        now = self.clock()
        try:
            states = self.service.feed_states()
        except StoreError as exc:
            summary.errors.append(f"feed state unavailable, polling every feed: {exc}")
            states = {}
        due: list[FeedConfig] = []
        results: list[FeedResult] = []
        for feed in feeds:
            st = states.get(feed.id)
            if not force and st and st.next_attempt_at and st.next_attempt_at > now \
                    and st.consecutive_failures:
                reason = f"backing off after {st.consecutive_failures} failures"
                summary.feeds_skipped.append(FeedSkipped(id=feed.id, reason=reason,
                                                         next_attempt_at=st.next_attempt_at))
                results.append(FeedResult(id=feed.id, status="backing_off", error=st.last_error))
            else:
                due.append(feed)

        if due:
            results += self._run_due(due, states, summary, started)
        for res in results:
            summary.entries_seen += res.entries_seen
            summary.duplicates += res.duplicates
            summary.skipped_no_title += res.skipped_no_title
            summary.signals_written += res.signals_written
            summary.pending += res.pending
            for label, n in res.labels.items():
                summary.labels[label] = summary.labels.get(label, 0) + n
        order = {f.id: i for i, f in enumerate(feeds)}
        summary.feeds = sorted(results, key=lambda r: order[r.id])
        summary.feeds_failed.sort(key=lambda f: order[f.id])
        summary.duration_s = round(time.monotonic() - started, 3)
        return summary

    def _run_due(self, due: list[FeedConfig], states: dict[str, FeedState],
                 summary: IngestSummary, started: float) -> list[FeedResult]:
        client = self._client or make_client(self.timeout,
                                             max_connections=max(self.concurrency, 1))
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(due))),
                                  thread_name_prefix="newsig-fetch")
        results: list[FeedResult] = []
        try:
            futures: dict[Future[_Fetched], FeedConfig] = {
                pool.submit(self._fetch_one, client, f, states.get(f.id) or FeedState(
                    feed_id=f.id)): f for f in due}
            pending = set(futures)
            while pending:
                remaining = self.run_timeout - (time.monotonic() - started)
                if remaining <= 0:
                    break
                done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    fetched = fut.result()
                    state = states.get(fetched.feed.id) or FeedState(feed_id=fetched.feed.id)
                    results.append(self._process(fetched, state, summary))
            for fut in pending:  # the run's own bound: report, don't punish the feed
                fut.cancel()
                feed = futures[fut]
                reason = f"run deadline of {self.run_timeout:g}s reached before this feed finished"
                summary.feeds_failed.append(FeedFailure(id=feed.id, url=feed.url, reason=reason))
                results.append(FeedResult(id=feed.id, status="failed", error=reason))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            if self._client is None:
                client.close()
        return results

    # -- one feed ------------------------------------------------------------------------
    def _process(self, fetched: _Fetched, state: FeedState,
                 summary: IngestSummary) -> FeedResult:
        feed = fetched.feed
        now = self.clock()
        res = FeedResult(id=feed.id, status="ok")
        state = state.model_copy(update={"url": feed.url, "last_attempt_at": now,
                                         "last_status": fetched.status})
        if fetched.result is None:
            return self._failed(feed, state, res, fetched.error or "unknown error", summary)
        result = fetched.result
        if result.not_modified:
            res.status = "not_modified"
            summary.feeds_ok += 1
            summary.feeds_not_modified += 1
            self._succeeded(state, res, result, complete=True, summary=summary)
            return res
        try:
            parsed = parse_feed(feed.id, result.body, tickers=feed.tickers,
                                content_type=result.content_type, linker=self.linker,
                                now=now)
        except ParseError as exc:
            return self._failed(feed, state, res, str(exc), summary)
        except Exception as exc:  # feedparser on hostile input: contain it to this feed
            log.exception("parsing feed %s failed", feed.id)
            return self._failed(feed, state, res, f"parse failed: {type(exc).__name__}", summary)
        summary.feeds_ok += 1
        res.entries_seen = len(parsed.articles) + parsed.skipped
        res.skipped_no_title = parsed.skipped
        res.truncated = parsed.truncated
        if parsed.truncated:
            summary.errors.append(f"{feed.id}: XML cut off; last entry dropped, "
                                  "feed will be fetched in full next time")
        recorded = self.service.record(parsed.articles)
        res.signals_written = recorded.written
        res.duplicates = recorded.duplicates
        res.pending = recorded.pending
        res.rejected = len(recorded.rejected)
        summary.rejected += [RejectedFeedItem(feed=feed.id, **r.model_dump())
                             for r in recorded.rejected]
        res.labels = recorded.labels
        summary.classify_s = round(summary.classify_s + recorded.classify_s, 4)
        summary.errors += [f"{feed.id}: {e}" for e in recorded.errors]
        complete = res.pending == 0 and not parsed.truncated
        self._succeeded(state, res, result, complete=complete, summary=summary)
        return res

    # -- feed state (kept by the use case) --------------------------------------------------
    def _failed(self, feed: FeedConfig, state: FeedState, res: FeedResult, reason: str,
                summary: IngestSummary) -> FeedResult:
        summary.errors += self.service.feed_failed(state, reason, backoff_base=self.backoff_base,
                                                   backoff_cap=self.backoff_cap)
        summary.feeds_failed.append(FeedFailure(id=feed.id, url=feed.url, reason=reason))
        res.status, res.error = "failed", reason
        return res

    def _succeeded(self, state: FeedState, res: FeedResult, result: FetchResult, *,
                   complete: bool, summary: IngestSummary) -> None:
        summary.errors += self.service.feed_succeeded(
            state, etag=result.etag, last_modified=result.last_modified, complete=complete,
            interval=self.interval, items_seen=res.entries_seen)
