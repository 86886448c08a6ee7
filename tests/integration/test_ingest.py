"""Ingestion against a real HTTP feed server on 127.0.0.1 with the tiny ONNX model."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.errors import ConfigError
from core.service import SignalService
from ingest.feeds import FeedConfig, load_feeds
from ingest.parse import cashtags, parse_feed
from ingest.pipeline import Ingestor
from tests.support.builders import ATOM_ENTRIES, RSS_ITEMS
from tests.support.feed_server import FeedServer, Route, atom, rss


@pytest.fixture
def feeds(feed_server: FeedServer) -> list[FeedConfig]:
    feed_server.routes["/rss.xml"] = Route(rss(RSS_ITEMS))
    feed_server.routes["/atom.xml"] = Route(atom(ATOM_ENTRIES),
                                            content_type="application/atom+xml")
    feed_server.routes["/bad.xml"] = Route(b"this is not { xml ] at all",
                                           content_type="text/plain")
    feed_server.routes["/slow.xml"] = Route(rss(RSS_ITEMS), delay=3.0)
    return [
        FeedConfig(id="rss", url=feed_server.url("/rss.xml"), tickers=("NOK",)),
        FeedConfig(id="atom", url=feed_server.url("/atom.xml")),
        FeedConfig(id="bad", url=feed_server.url("/bad.xml")),
        FeedConfig(id="gone", url=feed_server.url("/missing.xml")),
        FeedConfig(id="slow", url=feed_server.url("/slow.xml")),
    ]


def all_signals(store: SQLiteSignalStore) -> list:
    return store.query(limit=1000).items


def test_each_good_item_is_stored_exactly_once(classifier: OnnxClassifier,
                                               sqlite_store: SQLiteSignalStore,
                                               feeds: list[FeedConfig]) -> None:
    ingestor = Ingestor(SignalService(sqlite_store, classifier), timeout=1.0)
    first = ingestor.run_once(feeds)

    assert first.feeds_ok == 2
    failed = {f.id: f.reason for f in first.feeds_failed}
    assert set(failed) == {"bad", "gone", "slow"}
    assert "not an RSS or Atom feed" in failed["bad"]
    assert "404" in failed["gone"]
    assert "timed out" in failed["slow"]
    assert first.entries_seen == 6
    assert first.signals_written == 5
    assert first.duplicates == 1
    assert first.errors == []

    stored = all_signals(sqlite_store)
    assert len(stored) == 5 == len({s.signal_id for s in stored})
    titles = {s.title for s in stored}
    assert "Nokia shares jump on record profit" in titles
    assert "Tesla beat estimates & will raise dividend" in titles
    by_title = {s.title: s for s in stored}
    nokia = by_title["Nokia shares jump on record profit"]
    assert nokia.published_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert nokia.tickers == ["NOK"]
    # Subjects first, then the feed's configured tickers (NOK).
    apple = by_title["$AAPL profit fell to a loss"]
    assert apple.tickers == ["AAPL", "NOK"]
    assert [(e.ticker, e.role.value, e.span) for e in apple.entities] == [
        ("AAPL", "subject", (0, 5))]
    assert apple.entities[0].label == apple.label  # the headline's, until entity sentiment
    assert by_title["Board meets Monday"].published_at is None
    assert all(s.model_version == classifier.model_version for s in stored)

    second = ingestor.run_once(feeds)
    assert second.signals_written == 0
    assert second.duplicates == 6
    assert len(all_signals(sqlite_store)) == 5


def test_new_items_in_a_later_pass_are_added(classifier: OnnxClassifier,
                                             sqlite_store: SQLiteSignalStore,
                                             feed_server: FeedServer) -> None:
    feed_server.routes["/f.xml"] = Route(rss(RSS_ITEMS[:1]))
    feeds = [FeedConfig(id="f", url=feed_server.url("/f.xml"))]
    ingestor = Ingestor(SignalService(sqlite_store, classifier), timeout=2.0)
    assert ingestor.run_once(feeds).signals_written == 1
    feed_server.routes["/f.xml"] = Route(rss(RSS_ITEMS[:2]))
    again = ingestor.run_once(feeds)
    assert (again.signals_written, again.duplicates) == (1, 1)


def test_connection_refused_is_a_per_feed_failure(classifier: OnnxClassifier,
                                                  sqlite_store: SQLiteSignalStore,
                                                  feed_server: FeedServer) -> None:
    feed_server.routes["/ok.xml"] = Route(rss(RSS_ITEMS[:1]))
    feeds = [FeedConfig(id="closed", url="http://127.0.0.1:9/feed.xml"),
             FeedConfig(id="ok", url=feed_server.url("/ok.xml"))]
    summary = Ingestor(SignalService(sqlite_store, classifier), timeout=2.0).run_once(feeds)
    assert summary.feeds_ok == 1 and summary.signals_written == 1
    assert summary.feeds_failed[0].id == "closed"
    assert "connection failed" in summary.feeds_failed[0].reason


def test_parse_feed_skips_entries_without_title() -> None:
    body = rss([{"title": "", "guid": "x"}, {"title": "Profit rose", "guid": "y"}])
    parsed = parse_feed("s", body)
    assert [a.title for a in parsed.articles] == ["Profit rose"] and parsed.skipped == 1


def test_cashtags() -> None:
    assert cashtags("$AAPL and $brk.b beat; costs $5 bn; US$ and a$b") == ["AAPL", "BRK.B"]


def test_load_feeds_reports_file_and_feed(tmp_path: Path) -> None:
    good = tmp_path / "feeds.toml"
    good.write_text('[[feeds]]\nid = "a"\nurl = "https://x.example/rss"\ntickers = ["$nok"]\n')
    (feed,) = load_feeds(good)
    assert feed.tickers == ("NOK",)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[feeds]]\nid = "a"\nurl = "ftp://x"\n')
    with pytest.raises(ConfigError, match=r"bad.toml, feed #1: url"):
        load_feeds(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text('[[feeds]]\nid="a"\nurl="http://a"\n[[feeds]]\nid="a"\nurl="http://b"\n')
    with pytest.raises(ConfigError, match="duplicate id"):
        load_feeds(dup)
    with pytest.raises(ConfigError, match="does not exist"):
        load_feeds(tmp_path / "none.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[feeds]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_feeds(broken)


def test_shipped_feeds_file_is_valid() -> None:
    feeds = load_feeds()
    assert len(feeds) >= 5
    assert all(f.url.startswith("https://") for f in feeds)
