"""Hostile feeds and poison items from the hardening issue, each as a regression test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.models import FeedConfig, PutResult, Signal
from core.service import SignalService
from ingest.fetch import make_client, policy_for
from ingest.netguard import BlockedAddress, address_kind, reset_policy, use_policy
from ingest.pipeline import Ingestor
from tests.support.feed_server import FeedServer, Route, rss

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def ingestor(store: Any, classifier: OnnxClassifier, **kwargs: Any) -> Ingestor:
    return Ingestor(SignalService(store, classifier), timeout=1.0, clock=lambda: NOW, **kwargs)


def every(store: SQLiteSignalStore) -> list[Signal]:
    return store.query(limit=1000).items


def test_a_server_trickling_its_headers_hits_the_feed_deadline_and_backs_off(
        feed_server: FeedServer, sqlite_store: SQLiteSignalStore,
        classifier: OnnxClassifier) -> None:
    feed_server.routes["/slow.xml"] = Route(rss([{"title": "a", "guid": "1"}]),
                                            trickle_headers=0.05)  # 200 lines: 10 s
    feeds = [FeedConfig(id="slow", url=feed_server.url("/slow.xml"))]
    summary = ingestor(sqlite_store, classifier, run_timeout=60).run_once(feeds)
    assert "timed out after 1s" in summary.feeds_failed[0].reason
    state = sqlite_store.get_feed_states()["slow"]
    assert state.consecutive_failures == 1 and state.next_attempt_at is not None


def test_metadata_and_link_local_addresses_are_never_reached(feed_server: FeedServer,
                                                             sqlite_store: SQLiteSignalStore,
                                                             classifier: OnnxClassifier) -> None:
    feed_server.routes["/to-meta.xml"] = Route(b"", status=302,
                                               location="http://169.254.169.254/latest/")
    feed_server.routes["/to-ll6.xml"] = Route(b"", status=307, location="http://[fe80::1]/x")
    feeds = [FeedConfig(id="meta", url=feed_server.url("/to-meta.xml")),
             FeedConfig(id="ll6", url=feed_server.url("/to-ll6.xml"))]
    summary = ingestor(sqlite_store, classifier, allow_private=True).run_once(feeds)
    reasons = {f.id: f.reason for f in summary.feeds_failed}
    assert "blocked" in reasons["meta"] and "169.254.169.254" in reasons["meta"]
    assert "blocked" in reasons["ll6"]


def test_a_public_feed_cannot_reach_loopback_or_private_addresses(
        feed_server: FeedServer) -> None:
    # What a redirect from a public feed URL to this machine meets: the policy of the
    # configured (public) URL, enforced on the connection the redirect opens.
    assert address_kind(__import__("ipaddress").ip_address("10.0.0.7")) == "private"
    for url in ("http://feeds.example.com/rss", "http://93.184.216.34/rss"):
        policy = policy_for(url, 5.0)
        assert not policy.allow_loopback and not policy.allow_private
        token = use_policy(policy)
        try:
            with make_client(5.0) as client, pytest.raises(httpx.ConnectError) as err:
                client.get(feed_server.url("/anything"))
            assert isinstance(err.value.__cause__, BlockedAddress) or "refused" in str(err.value)
        finally:
            reset_policy(token)
    assert policy_for("http://127.0.0.1:9/x", 5).allow_loopback  # a local feed stays local
    assert policy_for("https://feeds.example.com/", 5, allow_private=True).allow_private


def _entity_feed(padding: int) -> str:
    return ('<?xml version="1.0"?>' + " " * padding + '<!DOCTYPE rss [<!ENTITY a "' + "a" * 50
            + '">]><rss version="2.0"><channel><item><title>&a;</title><guid>1</guid></item>'
            "</channel></rss>")


@pytest.mark.parametrize("body", [
    _entity_feed(70_000).encode(),
    _entity_feed(10).replace('version="1.0"', 'version="1.0" encoding="utf-16"').encode(
        "utf-16"),
    _entity_feed(70_000).encode("utf-16-be"),
])
def test_entity_declarations_are_found_behind_padding_and_in_utf16(
        feed_server: FeedServer, sqlite_store: SQLiteSignalStore, classifier: OnnxClassifier,
        body: bytes) -> None:
    feed_server.routes["/e.xml"] = Route(body)
    summary = ingestor(sqlite_store, classifier).run_once(
        [FeedConfig(id="e", url=feed_server.url("/e.xml"))])
    assert "entity-expansion" in summary.feeds_failed[0].reason and every(sqlite_store) == []


def test_utf16_titles_survive_with_their_ampersands(feed_server: FeedServer,
                                                    sqlite_store: SQLiteSignalStore,
                                                    classifier: OnnxClassifier) -> None:
    text = rss([{"title": "Nestlé & L'Oréal: S&P 500 up", "guid": "u1"}]).decode()
    feed_server.routes["/u16.xml"] = Route(text.replace("'UTF-8'", "'UTF-16'").encode("utf-16"))
    summary = ingestor(sqlite_store, classifier).run_once(
        [FeedConfig(id="u", url=feed_server.url("/u16.xml"))])
    assert summary.signals_written == 1
    assert [s.title for s in every(sqlite_store)] == ["Nestlé & L'Oréal: S&P 500 up"]


def test_feeds_view_redacts_credentials(sqlite_store: SQLiteSignalStore,
                                        classifier: OnnxClassifier) -> None:
    feeds = [FeedConfig(id="p", url="https://bob:hunter2@feeds.example.com/rss?token=abc&x=1")]
    with TestClient(create_app(Services(sqlite_store, classifier=classifier,
                                        feeds=feeds))) as c:
        shown = c.get("/feeds").json()[0]["url"]
    assert "hunter2" not in shown and "abc" not in shown and "bob" not in shown
    assert shown.startswith("https://***@feeds.example.com/rss?token=***") and "x=1" in shown


def test_poison_items_are_made_to_fit_and_flagged(feed_server: FeedServer,
                                                  sqlite_store: SQLiteSignalStore,
                                                  classifier: OnnxClassifier) -> None:
    cashtags = " ".join(f"${chr(65 + i // 26)}{chr(65 + i % 26)}X" for i in range(150))
    feed_server.routes["/p.xml"] = Route(rss([
        {"title": f"Shares rose {cashtags}", "guid": "many-tickers"},
        {"title": "Profit rose to a record", "guid": "huge", "description": "d" * 450_000},
        {"title": "Board meets Monday", "guid": "plain"}]))
    summary = ingestor(sqlite_store, classifier).run_once(
        [FeedConfig(id="p", url=feed_server.url("/p.xml"))])
    assert (summary.signals_written, summary.pending, summary.rejected) == (3, 0, [])
    by_guid = {s.guid: s for s in every(sqlite_store)}
    assert len(by_guid["many-tickers"].tickers) == 20
    assert "tickers_capped" in by_guid["many-tickers"].flags
    assert len(by_guid["huge"].summary or "") <= 2000
    assert "summary_truncated" in by_guid["huge"].flags
    assert by_guid["plain"].flags == []


class RejectingStore:
    """A store that can never hold one particular signal (as DynamoDB refuses an item)."""

    def __init__(self, inner: SQLiteSignalStore, title: str) -> None:
        self.inner, self.title = inner, title

    def put_many(self, signals: Any) -> PutResult:
        signals = list(signals)
        bad = [s for s in signals if s.title == self.title]
        put = self.inner.put_many([s for s in signals if s.title != self.title])
        return put.model_copy(update={"rejected": {s.signal_id: "item too large" for s in bad}})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_item_no_store_can_hold_is_rejected_reported_and_never_pending(
        feed_server: FeedServer, sqlite_store: SQLiteSignalStore,
        classifier: OnnxClassifier) -> None:
    feed_server.routes["/r.xml"] = Route(rss([{"title": f"Profit rose {i}", "guid": str(i)}
                                              for i in range(4)]), conditional=True)
    feeds = [FeedConfig(id="r", url=feed_server.url("/r.xml"))]
    store = RejectingStore(sqlite_store, "Profit rose 2")
    first = ingestor(store, classifier).run_once(feeds)
    assert (first.signals_written, first.pending, first.errors) == (3, 0, [])
    assert [(r.feed, r.title, r.reason) for r in first.rejected] == [
        ("r", "Profit rose 2", "item too large")]
    second = ingestor(store, classifier).run_once(feeds)  # the ETag was kept: nothing pending
    assert second.feeds_not_modified == 1 and second.signals_written == 0


def test_an_item_repeated_under_a_new_guid_is_one_signal(feed_server: FeedServer,
                                                         sqlite_store: SQLiteSignalStore,
                                                         classifier: OnnxClassifier) -> None:
    feed_server.routes["/d.xml"] = Route(rss([
        {"title": "Nokia profit rose", "guid": "a", "link": "https://n.example/story?id=1"},
        {"title": "Nokia profit rose", "guid": "b", "link": "https://n.example/story?id=1"},
        {"title": "Tesla profit fell", "guid": "c", "link": "https://n.example/home"},
        {"title": "Apple board meets", "guid": "d", "link": "https://n.example/home"}]))
    summary = ingestor(sqlite_store, classifier).run_once(
        [FeedConfig(id="d", url=feed_server.url("/d.xml"))])
    assert (summary.signals_written, summary.duplicates) == (3, 1)
    assert sorted(s.title for s in every(sqlite_store)) == [
        "Apple board meets", "Nokia profit rose", "Tesla profit fell"]


def test_two_ingests_at_once_keep_exact_feed_counters(tmp_path: Path, feed_server: FeedServer,
                                                       classifier: OnnxClassifier) -> None:
    feeds = []
    for f in range(3):
        feed_server.routes[f"/c{f}.xml"] = Route(rss([{"title": f"Feed {f} profit rose {i}",
                                                      "guid": f"{f}-{i}"} for i in range(150)]))
        feeds.append(FeedConfig(id=f"c{f}", url=feed_server.url(f"/c{f}.xml")))
    stores = [SQLiteSignalStore(tmp_path / "shared.db") for _ in range(2)]
    threads = [threading.Thread(target=ingestor(s, classifier).run_once, args=(feeds,))
               for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = stores[0].get_feed_states()
    stored_per_feed = {f.id: len(stores[0].query(source=f.id, limit=1000).items)
                       for f in feeds}
    assert stored_per_feed == {f.id: 150 for f in feeds}
    assert {k: v.signals_written for k, v in states.items()} == stored_per_feed
    assert {k: v.items_seen for k, v in states.items()} == {f.id: 300 for f in feeds}
    for s in stores:
        s.close()


@pytest.fixture
def moto_store() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from core.adapters.dynamodb_store import DynamoDBSignalStore
    from tests.support.dynamodb import create_table

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "poison")
        yield DynamoDBSignalStore("poison", client=client, workers=1)


def test_poison_items_fit_dynamodb_too(feed_server: FeedServer, moto_store: Any,
                                       classifier: OnnxClassifier) -> None:
    cashtags = " ".join(f"${chr(65 + i // 26)}{chr(65 + i % 26)}Q" for i in range(150))
    feed_server.routes["/pd.xml"] = Route(rss([
        {"title": f"Shares rose {cashtags}", "guid": "t"},
        {"title": "Profit rose to a record", "guid": "h", "description": "d" * 450_000},
        {"title": "Board meets Monday", "guid": "n"}]))
    feeds = [FeedConfig(id="pd", url=feed_server.url("/pd.xml"))]
    summary = ingestor(moto_store, classifier).run_once(feeds)
    assert (summary.signals_written, summary.pending, summary.errors) == (3, 0, [])
    assert moto_store.get_feed_states()["pd"].signals_written == 3
