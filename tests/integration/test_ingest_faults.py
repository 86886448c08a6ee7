"""Fault-injection suite: real feed server on 127.0.0.1, tiny ONNX model, real SQLite file.

Each case asserts what the user sees (the run summary and GET /feeds) and what is stored.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.errors import ClassifierUnavailableError
from core.models import FeedConfig, Prediction
from core.ports import Classifier, SignalStore
from core.retry import RetryPolicy
from core.service import SignalService
from ingest.pipeline import Ingestor
from tests.support.feed_server import FeedServer, Route, rss

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def items(n: int, prefix: str = "Profit rose at company", start: int = 0) -> list[dict[str, str]]:
    return [{"title": f"{prefix} {i}", "guid": f"{prefix}-{i}",
             "link": f"https://news.example/{prefix.replace(' ', '-')}/{i}",
             "pubDate": "Sun, 22 Nov 2026 10:00:00 GMT"} for i in range(start, start + n)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_ingestor(classifier: OnnxClassifier, sqlite_store: SQLiteSignalStore, clock: Clock):
    def make(*, classifier_: Classifier | None = None, store: SignalStore | None = None,
             classify_chunk: int = 256, write_attempts: int = 4, retry_delay: float = 0.05,
             **kwargs: Any) -> Ingestor:
        service = SignalService(store or sqlite_store, classifier_ or classifier,
                                retry=RetryPolicy(attempts=write_attempts,
                                                  base_delay=retry_delay),
                                chunk=classify_chunk, clock=clock)
        return Ingestor(service, **{"timeout": 1.0, "clock": clock, **kwargs})
    return make


def feeds_view(store: SQLiteSignalStore, feeds: Sequence[FeedConfig]) -> dict[str, dict]:
    """What a user sees at GET /feeds, by feed id."""
    with TestClient(create_app(Services(store, feeds=feeds))) as client:
        response = client.get("/feeds")
        assert response.status_code == 200
        return {f["id"]: f for f in response.json()}


def stored(store: SQLiteSignalStore) -> list:
    out, cursor = [], None
    while True:
        page = store.query(limit=1000, cursor=cursor)
        out += page.items
        if not (cursor := page.next_cursor):
            return out


def one_feed(server: FeedServer, path: str, route: Route, feed_id: str = "f") -> list[FeedConfig]:
    server.routes[path] = route
    return [FeedConfig(id=feed_id, url=server.url(path))]


@pytest.mark.parametrize(("route", "needle"), [
    (Route(rss(items(2)), delay=2.5), "timed out"),
    (Route(b"", status=404), "HTTP 404"),
    (Route(b"oops", status=500, content_type="text/plain"), "HTTP 500"),
    (Route(b"<!DOCTYPE html><html><body>Subscribe!</body></html>",
           content_type="text/html"), "HTML page"),
    (Route(b'{"items": []}', content_type="application/json"), "JSON document"),
    (Route(rss(items(400)), chunked=True), "exceeds the 20000-byte cap"),
    (Route(rss(items(400))), "exceeds the 20000-byte cap"),
    (Route(b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;"
           b"&a;&a;&a;&a;&a;&a;&a;'>]><rss version='2.0'><channel><item><title>&b;</title>"
           b"</item></channel></rss>"), "entity-expansion"),
    (Route(b""), "empty body"),
])
def test_a_bad_feed_fails_alone_and_is_reported(feed_server: FeedServer, make_ingestor,
                                                sqlite_store: SQLiteSignalStore, route: Route,
                                                needle: str) -> None:
    feed_server.routes["/good.xml"] = Route(rss(items(3)))
    feed_server.routes["/bad.xml"] = route
    feeds = [FeedConfig(id="bad", url=feed_server.url("/bad.xml")),
             FeedConfig(id="good", url=feed_server.url("/good.xml"))]
    summary = make_ingestor(max_bytes=20_000).run_once(feeds)
    assert summary.feeds_ok == 1 and summary.signals_written == 3
    (failure,) = summary.feeds_failed
    assert failure.id == "bad" and needle in failure.reason
    assert len(stored(sqlite_store)) == 3
    view = feeds_view(sqlite_store, feeds)
    assert view["bad"]["status"] == "failing" and needle in view["bad"]["last_error"]
    assert view["bad"]["consecutive_failures"] == 1
    assert view["good"]["status"] == "ok" and view["good"]["signals_written"] == 3


def test_connection_refused(make_ingestor, sqlite_store: SQLiteSignalStore) -> None:
    feeds = [FeedConfig(id="closed", url="http://127.0.0.1:9/rss")]
    summary = make_ingestor().run_once(feeds)
    assert "connection failed" in summary.feeds_failed[0].reason
    assert feeds_view(sqlite_store, feeds)["closed"]["last_status"] is None


def test_redirect_loop(feed_server: FeedServer, make_ingestor) -> None:
    feeds = one_feed(feed_server, "/loop", Route(status=302, location="/loop"))
    summary = make_ingestor().run_once(feeds)
    assert "too many redirects" in summary.feeds_failed[0].reason
    assert feed_server.hits["/loop"] == 6  # the first request and five redirects


def test_redirect_is_followed(feed_server: FeedServer, make_ingestor) -> None:
    feed_server.routes["/new.xml"] = Route(rss(items(2)))
    feeds = one_feed(feed_server, "/old.xml", Route(status=301, location="/new.xml"))
    assert make_ingestor().run_once(feeds).signals_written == 2


def test_failing_feed_backs_off_then_recovers(feed_server: FeedServer, make_ingestor,
                                              sqlite_store: SQLiteSignalStore,
                                              clock: Clock) -> None:
    feeds = one_feed(feed_server, "/flaky.xml", Route(b"down", status=503))
    ingestor = make_ingestor(backoff_base=60, backoff_cap=150)
    ingestor.run_once(feeds)
    view = feeds_view(sqlite_store, feeds)["f"]
    assert view["consecutive_failures"] == 1
    assert view["next_attempt_at"] == (T0 + timedelta(seconds=60)).isoformat().replace(
        "+00:00", "Z")

    clock.advance(30)  # still backing off: not fetched at all
    skipped = ingestor.run_once(feeds)
    assert [s.id for s in skipped.feeds_skipped] == ["f"] and feed_server.hits["/flaky.xml"] == 1
    assert skipped.feeds_failed == []

    clock.advance(31)
    ingestor.run_once(feeds)
    assert feed_server.hits["/flaky.xml"] == 2
    st = sqlite_store.get_feed_states()["f"]
    assert st.consecutive_failures == 2
    assert st.next_attempt_at == clock.now + timedelta(seconds=120)

    clock.advance(121)
    ingestor.run_once(feeds)
    assert sqlite_store.get_feed_states()["f"].next_attempt_at == clock.now + timedelta(
        seconds=150)  # capped

    feed_server.routes["/flaky.xml"] = Route(rss(items(2)))
    assert ingestor.run_once(feeds, force=True).signals_written == 2  # force ignores backoff
    view = feeds_view(sqlite_store, feeds)["f"]
    assert view["status"] == "ok" and view["consecutive_failures"] == 0
    assert view["last_error"] is None and view["last_success_at"] is not None
    assert view["signals_written"] == 2 and view["items_seen"] == 2


def test_conditional_get_304_is_nothing_new(feed_server: FeedServer, make_ingestor,
                                            sqlite_store: SQLiteSignalStore) -> None:
    feeds = one_feed(feed_server, "/c.xml", Route(rss(items(5)), conditional=True))
    ingestor = make_ingestor()
    assert ingestor.run_once(feeds).signals_written == 5
    assert sqlite_store.get_feed_states()["f"].etag is not None
    second = ingestor.run_once(feeds)
    assert feed_server.not_modified["/c.xml"] == 1
    assert (second.feeds_ok, second.feeds_not_modified, second.entries_seen,
            second.signals_written) == (1, 1, 0, 0)
    feed_server.routes["/c.xml"] = Route(rss(items(6)), conditional=True)  # new content
    third = ingestor.run_once(feeds)
    assert (third.signals_written, third.duplicates) == (1, 5)
    assert feeds_view(sqlite_store, feeds)["f"]["signals_written"] == 6


def test_truncated_xml_keeps_complete_items_and_refetches(feed_server: FeedServer,
                                                          make_ingestor,
                                                          sqlite_store: SQLiteSignalStore) -> None:
    full = rss(items(3))
    cut = full[:full.index(b"company 2") + 4]
    feeds = one_feed(feed_server, "/t.xml", Route(cut, conditional=True))
    ingestor = make_ingestor()
    first = ingestor.run_once(feeds)
    assert first.signals_written == 2 and first.feeds[0].truncated
    assert any("cut off" in e for e in first.errors)
    assert sorted(s.title for s in stored(sqlite_store)) == [
        "Profit rose at company 0", "Profit rose at company 1"]
    assert sqlite_store.get_feed_states()["f"].etag is None  # no 304 may hide item 2
    feed_server.routes["/t.xml"] = Route(full, conditional=True)
    second = ingestor.run_once(feeds)
    assert (second.signals_written, second.duplicates) == (1, 2)


def test_wrong_declared_charset_and_bare_ampersands(feed_server: FeedServer, make_ingestor,
                                                    sqlite_store: SQLiteSignalStore) -> None:
    latin1 = rss([{"title": "Nestlé profit rose", "guid": "1"},
                  {"title": "Zürich bank cut rates", "guid": "2"}], encoding="iso-8859-1")
    lying = latin1.replace(b"encoding='iso-8859-1'", b"encoding='utf-8'")
    feeds = one_feed(feed_server, "/enc.xml", Route(lying))
    feed_server.routes["/amp.xml"] = Route(rss([{"title": "S&P 500 rises on M&A at AT&T",
                                                 "guid": "a"}]))
    feeds.append(FeedConfig(id="amp", url=feed_server.url("/amp.xml")))
    summary = make_ingestor().run_once(feeds)
    assert summary.feeds_failed == [] and summary.signals_written == 3
    assert sorted(s.title for s in stored(sqlite_store)) == [
        "Nestlé profit rose", "S&P 500 rises on M&A at AT&T", "Zürich bank cut rates"]


def test_duplicate_guids_within_a_feed(feed_server: FeedServer, make_ingestor,
                                       sqlite_store: SQLiteSignalStore) -> None:
    twice = items(3) + items(2)
    summary = make_ingestor().run_once(one_feed(feed_server, "/d.xml", Route(rss(twice))))
    assert (summary.entries_seen, summary.signals_written, summary.duplicates) == (5, 3, 2)
    assert len(stored(sqlite_store)) == 3


def test_guid_change_with_same_link_is_the_same_signal(feed_server: FeedServer, make_ingestor,
                                                       sqlite_store: SQLiteSignalStore) -> None:
    first = [{"title": "Nokia profit rose", "guid": "v1-abc", "link": "https://n.example/a/1"}]
    feeds = one_feed(feed_server, "/g.xml", Route(rss(first)))
    ingestor = make_ingestor()
    assert ingestor.run_once(feeds).signals_written == 1
    renamed = [{"title": "Nokia profit rose", "guid": "v2-xyz",
                "link": "https://N.example/a/1?utm_source=rss#top"}]
    feed_server.routes["/g.xml"] = Route(rss(renamed))
    again = ingestor.run_once(feeds)
    assert (again.signals_written, again.duplicates) == (0, 1)
    assert len(stored(sqlite_store)) == 1


def test_items_sharing_a_homepage_link_are_not_merged(feed_server: FeedServer, make_ingestor,
                                                      sqlite_store: SQLiteSignalStore) -> None:
    same_link = [{"title": f"Story {i} profit", "guid": f"s{i}", "link": "https://site.example/"}
                 for i in range(3)]
    same_article = [{"title": f"Update {i}", "guid": f"u{i}", "link": "https://site.example/x"}
                    for i in range(2)]
    summary = make_ingestor().run_once(
        one_feed(feed_server, "/h.xml", Route(rss(same_link + same_article))))
    assert summary.signals_written == 5 and len(stored(sqlite_store)) == 5


def test_missing_unparseable_and_future_dates(feed_server: FeedServer, make_ingestor,
                                              sqlite_store: SQLiteSignalStore) -> None:
    entries = [
        {"title": "No date at all", "guid": "1"},
        {"title": "Garbage date", "guid": "2", "pubDate": "sometime last week"},
        {"title": "From the future", "guid": "3", "pubDate": "Tue, 01 Jan 2030 00:00:00 GMT"},
        {"title": "Slightly ahead", "guid": "4", "pubDate": "Mon, 23 Nov 2026 12:10:00 GMT"},
        {"title": "Normal", "guid": "5", "pubDate": "Mon, 23 Nov 2026 09:30:00 +0100"},
    ]
    make_ingestor().run_once(one_feed(feed_server, "/dates.xml", Route(rss(entries))))
    by_title = {s.title: s for s in stored(sqlite_store)}
    assert by_title["No date at all"].published_at is None
    assert by_title["No date at all"].flags == []
    assert by_title["Garbage date"].published_at is None
    assert by_title["Garbage date"].flags == ["published_at_unparseable"]
    assert by_title["From the future"].published_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert by_title["From the future"].flags == ["published_in_future"]
    assert by_title["Slightly ahead"].flags == []  # within the clock-skew allowance
    assert by_title["Normal"].published_at == datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    for s in by_title.values():  # point-in-time fields are never mixed up
        assert s.first_seen_at == T0 and s.scored_at == T0


def test_feed_with_5000_items(feed_server: FeedServer, make_ingestor,
                              sqlite_store: SQLiteSignalStore) -> None:
    feeds = one_feed(feed_server, "/big.xml", Route(rss(items(5000)), conditional=True))
    ingestor = make_ingestor(timeout=30)
    first = ingestor.run_once(feeds)
    assert (first.entries_seen, first.signals_written, first.duplicates) == (5000, 5000, 0)
    assert len(stored(sqlite_store)) == 5000
    second = ingestor.run_once(feeds)
    assert second.feeds_not_modified == 1 and second.signals_written == 0


class FailingAfter:
    """The real classifier, raising on every call after the first `ok_calls`."""

    def __init__(self, inner: OnnxClassifier, ok_calls: int) -> None:
        self.inner = inner
        self.ok_calls = ok_calls
        self.calls = 0
        self.model_version = inner.model_version

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls += 1
        if self.calls > self.ok_calls:
            raise ClassifierUnavailableError("endpoint throttled (injected)")
        return self.inner.classify(texts)


def test_classifier_failing_mid_run_loses_nothing(feed_server: FeedServer, make_ingestor,
                                                  classifier: OnnxClassifier,
                                                  sqlite_store: SQLiteSignalStore) -> None:
    feeds = one_feed(feed_server, "/m.xml", Route(rss(items(50)), conditional=True))
    flaky = FailingAfter(classifier, ok_calls=2)
    first = make_ingestor(classifier_=flaky, classify_chunk=10).run_once(feeds)
    assert (first.signals_written, first.pending) == (20, 30)
    assert any("classifier failed, 30 items left" in e for e in first.errors)
    assert len(stored(sqlite_store)) == 20
    assert sqlite_store.get_feed_states()["f"].etag is None  # next run must refetch in full
    second = make_ingestor(classify_chunk=10).run_once(feeds)
    assert (second.signals_written, second.duplicates, second.pending) == (30, 20, 0)
    assert len({s.signal_id for s in stored(sqlite_store)}) == 50
    assert sqlite_store.get_feed_states()["f"].etag is not None


def test_locked_store_is_retried_then_recovers(feed_server: FeedServer, make_ingestor,
                                               tmp_path: Path) -> None:
    store = SQLiteSignalStore(tmp_path / "locked.db", busy_timeout_s=0.1)
    feeds = one_feed(feed_server, "/l.xml", Route(rss(items(5))))
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None,
                              check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # a real write lock held by another connection
    threading.Timer(0.4, lambda: blocker.execute("COMMIT")).start()
    try:
        summary = make_ingestor(store=store, write_attempts=7, retry_delay=0.1).run_once(feeds)
        assert (summary.signals_written, summary.pending, summary.errors) == (5, 0, [])
    finally:
        store.close()


def test_store_down_past_retries_is_reported_and_written_next_run(
        feed_server: FeedServer, make_ingestor, tmp_path: Path) -> None:
    store = SQLiteSignalStore(tmp_path / "locked.db", busy_timeout_s=0.05)
    feeds = one_feed(feed_server, "/l.xml", Route(rss(items(5)), conditional=True))
    blocker = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        first = make_ingestor(store=store, write_attempts=2, retry_delay=0.01).run_once(feeds)
    finally:
        blocker.execute("COMMIT")
    try:
        assert (first.signals_written, first.pending) == (0, 5)
        assert any("store write failed" in e for e in first.errors)
        second = make_ingestor(store=store).run_once(feeds)
        assert (second.signals_written, second.pending) == (5, 0)
        assert feeds_view(store, feeds)["f"]["signals_written"] == 5
    finally:
        store.close()


def test_run_deadline_bounds_the_whole_pass(feed_server: FeedServer, make_ingestor) -> None:
    feed_server.routes["/fast.xml"] = Route(rss(items(2)))
    feed_server.routes["/slow.xml"] = Route(rss(items(2, "slow")), delay=1.5)
    feeds = [FeedConfig(id="fast", url=feed_server.url("/fast.xml")),
             FeedConfig(id="slow", url=feed_server.url("/slow.xml"))]
    summary = make_ingestor(timeout=5, run_timeout=0.7).run_once(feeds)
    assert summary.signals_written == 2
    assert "run deadline" in summary.feeds_failed[0].reason


def test_kill_mid_run_never_duplicates_or_loses(tiny_model_dir: Path, tmp_path: Path) -> None:
    """SIGKILL `newsig ingest` while it is writing, then run it again."""
    newsig = str(Path(sys.executable).parent / "newsig")
    db = tmp_path / "kill.db"
    with FeedServer() as server:
        lines = []
        for i in range(20):  # feeds finish one after another, so writes spread over time
            server.routes[f"/k{i}.xml"] = Route(rss(items(50, f"Feed {i} profit rose")),
                                                delay=0.3 * i)
            lines.append(f'[[feeds]]\nid = "k{i}"\nurl = "{server.url(f"/k{i}.xml")}"\n')
        feeds_file = tmp_path / "feeds.toml"
        feeds_file.write_text("\n".join(lines))
        cmd = [newsig, "ingest", "--once", "--feeds", str(feeds_file), "--store",
               f"sqlite:///{db}", "--model-dir", str(tiny_model_dir)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        count = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    with sqlite3.connect(db, timeout=1) as conn:
                        count = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
                except sqlite3.OperationalError:
                    count = 0
            if count >= 150:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with sqlite3.connect(db) as conn:
            before = {r[0] for r in conn.execute("SELECT signal_id FROM signals")}
        assert 150 <= len(before) < 1000
        rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
    store = SQLiteSignalStore(db)
    try:
        after = stored(store)
        ids = [s.signal_id for s in after]
        assert len(ids) == len(set(ids)) == 1000
        assert before <= set(ids)
        assert len({(s.source_id, s.guid) for s in after}) == 1000
        # Counted in the same transaction as the writes: exact despite the kill.
        assert {k: v.signals_written for k, v in store.get_feed_states().items()} == {
            f"k{i}": 50 for i in range(20)}
    finally:
        store.close()


def test_dynamodb_store_throttles_then_recovers(feed_server: FeedServer, make_ingestor) -> None:
    """botocore Stubber: reads and writes are throttled once each, then succeed; the pass
    still writes every item exactly once and reports no error."""
    import boto3
    from botocore.config import Config
    from botocore.stub import Stubber

    from core.adapters.dynamodb_store import DynamoDBSignalStore

    # botocore's own retries off, so the use case's retry policy is what must recover.
    client = boto3.client("dynamodb", region_name="us-east-1",
                          config=Config(retries={"total_max_attempts": 1}))
    store = DynamoDBSignalStore("t", client=client, workers=1)
    feeds = one_feed(feed_server, "/dt.xml", Route(rss(items(2))))
    empty = {"Responses": {"t": []}}
    stub = Stubber(client)
    stub.add_response("query", {"Items": []})                       # feed states
    stub.add_response("batch_get_item", empty)                      # dedup: signal ids
    stub.add_client_error("batch_get_item", "ProvisionedThroughputExceededException",
                          http_status_code=400)                     # dedup: links, throttled
    stub.add_response("batch_get_item", empty)                      # ... retried
    stub.add_client_error("transact_write_items", "ThrottlingException",
                          http_status_code=400)                     # first signal, throttled
    stub.add_response("transact_write_items", {})                   # second signal
    stub.add_response("put_item", {})                               # its story markers
    stub.add_response("put_item", {})
    stub.add_response("update_item", {})                            # feed count +1
    stub.add_response("update_item", {})                            # version count +1
    stub.add_response("transact_write_items", {})                   # first signal, retried
    stub.add_response("put_item", {})
    stub.add_response("put_item", {})
    stub.add_response("update_item", {})                            # feed count +1
    stub.add_response("update_item", {})                            # version count +1
    stub.add_response("update_item", {})                            # feed state
    stub.add_response("update_item", {})                            # items seen +2
    with stub:
        summary = make_ingestor(store=store).run_once(feeds)
        assert summary.errors == []
        stub.assert_no_pending_responses()
    assert (summary.signals_written, summary.pending, summary.errors) == (2, 0, [])
    assert summary.feeds[0].status == "ok"
