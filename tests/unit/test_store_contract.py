"""The SignalStore contract. Every store backend runs this same suite (see `store` fixture)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from core.adapters.dynamodb_store import DynamoDBSignalStore
from core.adapters.sqlite_store import SCHEMA_VERSION, SQLiteSignalStore
from core.errors import InvalidInputError
from core.models import FeedState
from core.ports import SignalStore
from core.text import make_link_key
from core.wiring import build_store
from tests.support.builders import T0, make_signal
from tests.support.dynamodb import create_table


@contextmanager
def sqlite_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SignalStore]:
    store = SQLiteSignalStore(tmp_path / "contract.db")
    yield store
    store.close()


class SerializedClient:
    """moto's in-memory backend is not thread-safe inside transactions (it deep-copies tables
    while other threads write). Calls go through one lock here; the store's worker threads and
    the interleaving of racing writers still run, each call seen by moto one at a time."""

    def __init__(self, client: object) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: object, **kwargs: object) -> object:
            with self._lock:
                return attr(*args, **kwargs)
        return call


@contextmanager
def dynamodb_mock_aws(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SignalStore]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "signals")
        yield DynamoDBSignalStore("signals", client=SerializedClient(client))


@contextmanager
def dynamodb_moto_server(request: pytest.FixtureRequest,
                         tmp_path: Path) -> Iterator[SignalStore]:
    endpoint = request.getfixturevalue("moto_endpoint")
    table = f"signals-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    create_table(client, table)
    # Built the way the service builds it: from a store URL, over real HTTP.
    store = build_store(f"dynamodb://{table}?region=us-east-1&endpoint_url={endpoint}")
    assert isinstance(store, DynamoDBSignalStore)
    store.client = SerializedClient(store.client)
    yield store
    client.delete_table(TableName=table)


STORES = {"sqlite": sqlite_store, "dynamodb-mock_aws": dynamodb_mock_aws,
          "dynamodb-moto_server": dynamodb_moto_server}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SignalStore]:
    with STORES[request.param](request, tmp_path) as s:
        yield s


def test_round_trip_keeps_every_field(store: SignalStore) -> None:
    s = make_signal(1, tickers=["AAPL", "MSFT"])
    assert store.put_many([s]).written == 1
    got = store.get(s.signal_id)
    assert got == s
    assert store.get("missing") is None


def test_put_many_is_idempotent(store: SignalStore) -> None:
    batch = [make_signal(i) for i in range(5)]
    first = store.put_many(batch)
    assert (first.written, first.duplicates) == (5, 0)
    again = store.put_many([*batch, make_signal(5)])
    assert (again.written, again.duplicates) == (1, 5)
    assert len(store.query(limit=100).items) == 6


def test_duplicates_within_one_batch_count_once(store: SignalStore) -> None:
    s = make_signal(1)
    result = store.put_many([s, s, s])
    assert (result.written, result.duplicates) == (1, 2)


def test_first_write_wins(store: SignalStore) -> None:
    s = make_signal(1, probs=(0.7, 0.2, 0.1))
    store.put_many([s])
    changed = s.model_copy(update={"model_version": "other"})
    assert store.put_many([changed]).duplicates == 1
    assert store.get(s.signal_id).model_version == "test-v1"  # type: ignore[union-attr]


def test_existing_link_keys(store: SignalStore) -> None:
    s = make_signal(1)
    store.put_many([s])
    key = make_link_key(s.source_id, "HTTPS://news.example/1?utm_medium=rss#x")
    assert key is not None
    assert store.existing_link_keys([key, "other"]) == {key}
    assert store.existing_link_keys([]) == set()


def test_flags_round_trip(store: SignalStore) -> None:
    s = make_signal(1).model_copy(update={"flags": ["published_in_future"]})
    store.put_many([s])
    assert store.get(s.signal_id).flags == ["published_in_future"]  # type: ignore[union-attr]


def test_distinct_story_keeps_each_storys_earliest_sighting(store: SignalStore) -> None:
    # One story on three outlets (seen at minutes 5, 2, 9), plus two unrelated stories.
    story = "Nokia shares jump on record profit"
    store.put_many([make_signal(5, source="a", title=story),
                    make_signal(2, source="b", title=story.upper() + "!"),
                    make_signal(9, source="c", title=story),
                    make_signal(3, source="a"), make_signal(7, source="c")])
    items = store.query(distinct_story=True).items
    assert len(items) == 3
    nokia = [s for s in items if "nokia" in s.title.lower()]
    assert [s.source_id for s in nokia] == ["b"]
    assert len(store.query().items) == 5
    # Within one source, that source's own earliest sighting counts.
    assert [s.title for s in store.query(source="c", distinct_story=True).items] == [
        story, "Headline number 7"]
    # A later syndication is not new news in a later window.
    later = store.query(since=T0 + timedelta(minutes=4), distinct_story=True).items
    assert all("nokia" not in s.title.lower() for s in later)
    # Paging through distinct stories still returns each once.
    first = store.query(distinct_story=True, limit=2)
    rest = store.query(distinct_story=True, limit=2, cursor=first.next_cursor)
    assert len(first.items) + len(rest.items) == 3 and rest.next_cursor is None


def test_feed_state_round_trip(store: SignalStore) -> None:
    assert store.get_feed_states() == {}
    st = FeedState(feed_id="a", url="http://x", etag='"abc"', consecutive_failures=2,
                   last_attempt_at=T0, next_attempt_at=T0 + timedelta(minutes=4),
                   items_seen=10, signals_written=7, last_error="HTTP 500")
    store.put_feed_state(st)
    store.put_feed_state(FeedState(feed_id="b"))
    assert store.get_feed_states()["a"] == st
    store.put_feed_state(st.model_copy(update={"consecutive_failures": 0, "last_error": None}))
    states = store.get_feed_states()
    assert set(states) == {"a", "b"} and states["a"].consecutive_failures == 0


def test_existing_ids(store: SignalStore) -> None:
    signals = [make_signal(i) for i in range(3)]
    store.put_many(signals[:2])
    ids = [s.signal_id for s in signals]
    assert store.existing_ids(ids) == set(ids[:2])
    assert store.existing_ids([]) == set()


def test_query_newest_first_and_filters(store: SignalStore) -> None:
    store.put_many([make_signal(i, source="a" if i % 2 else "b",
                                tickers=["AAPL"] if i % 3 == 0 else []) for i in range(12)])
    items = store.query(limit=100).items
    assert [s.first_seen_at for s in items] == sorted((s.first_seen_at for s in items),
                                                      reverse=True)
    assert {s.source_id for s in store.query(source="a").items} == {"a"}
    assert len(store.query(source="a").items) == 6
    aapl = store.query(ticker="$aapl").items
    assert [s.title for s in aapl] == [f"Headline number {i}" for i in (9, 6, 3, 0)]
    assert store.query(ticker="aapl", source="a").items == [
        s for s in aapl if s.source_id == "a"]
    assert store.query(source="nope").items == []


def test_time_range_is_since_inclusive_until_exclusive(store: SignalStore) -> None:
    store.put_many([make_signal(i) for i in range(10)])
    page = store.query(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=6))
    assert [s.title for s in page.items] == [f"Headline number {i}" for i in (5, 4, 3)]
    assert store.latest(2) == store.query(limit=2).items


def test_cursor_pages_cover_everything_once(store: SignalStore) -> None:
    # Several signals share a first_seen_at: the cursor must still never skip or repeat.
    same = T0 + timedelta(hours=1)
    signals = [make_signal(i, seen=same if i % 4 == 0 else None) for i in range(23)]
    store.put_many(signals)
    seen_ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.query(limit=5, cursor=cursor)
        seen_ids += [s.signal_id for s in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 5
    assert sorted(seen_ids) == sorted(s.signal_id for s in signals)
    assert len(seen_ids) == len(set(seen_ids))


def test_cursor_with_ticker_filter(store: SignalStore) -> None:
    store.put_many([make_signal(i, tickers=["NOK"]) for i in range(7)])
    first = store.query(ticker="NOK", limit=4)
    second = store.query(ticker="NOK", limit=4, cursor=first.next_cursor)
    assert len(first.items) == 4 and len(second.items) == 3 and second.next_cursor is None
    assert not {s.signal_id for s in first.items} & {s.signal_id for s in second.items}


def test_bad_cursor_is_a_clear_input_error(store: SignalStore) -> None:
    with pytest.raises(InvalidInputError) as info:
        store.query(cursor="not-a-cursor!!")
    assert info.value.field == "cursor"


def test_summary_buckets(store: SignalStore) -> None:
    store.put_many([
        make_signal(0, probs=(0.8, 0.1, 0.1)),                 # 09:00 negative -0.7
        make_signal(30, probs=(0.1, 0.1, 0.8)),                # 09:30 positive +0.7
        make_signal(45, probs=(0.1, 0.8, 0.1)),                # 09:45 neutral 0
        make_signal(70, probs=(0.1, 0.2, 0.7), tickers=["X"]),  # 10:10 positive +0.6
    ])
    buckets = store.summary(bucket_seconds=3600)
    assert [b.start for b in buckets] == [T0, T0 + timedelta(hours=1)]
    assert buckets[0].counts == {"negative": 1, "neutral": 1, "positive": 1}
    assert buckets[0].total == 3 and buckets[0].mean_score == pytest.approx(0.0)
    assert buckets[1].counts["positive"] == 1 and buckets[1].mean_score == pytest.approx(0.6)
    only_x = store.summary(ticker="X")
    assert len(only_x) == 1 and only_x[0].total == 1


def test_two_threads_writing_at_once(store: SignalStore) -> None:
    # Overlapping ranges: 0-79 and 40-119. Every id must end up stored exactly once.
    results = []
    barrier = threading.Barrier(2)

    def writer(lo: int, hi: int) -> None:
        barrier.wait()
        total_written = 0
        for start in range(lo, hi, 10):
            total_written += store.put_many([make_signal(i) for i in range(start, start + 10)]
                                            ).written
        results.append(total_written)

    threads = [threading.Thread(target=writer, args=r) for r in ((0, 80), (40, 120))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 120
    ids: set[str] = set()
    cursor = None
    while True:
        page = store.query(limit=1000, cursor=cursor)
        ids |= {s.signal_id for s in page.items}
        if not (cursor := page.next_cursor):
            break
    assert len(ids) == 120


def test_health_reports_ok(store: SignalStore) -> None:
    store.put_many([make_signal(1)])
    health = store.health()
    assert health["ok"] is True and health["backend"] in ("sqlite", "dynamodb")


def test_sqlite_persists_across_reopen_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "signals.db"
    first = SQLiteSignalStore(path)
    first.put_many([make_signal(1)])
    first.close()
    second = SQLiteSignalStore(path)
    assert len(second.query().items) == 1
    assert second.health()["signals"] == 1
    with second._conn() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == (
            SCHEMA_VERSION)
    second.close()


V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version VALUES (1);
CREATE TABLE signals (signal_id TEXT PRIMARY KEY, story_id TEXT NOT NULL, source_id TEXT NOT NULL,
    title TEXT NOT NULL, link TEXT, guid TEXT, summary TEXT, published_at TEXT,
    first_seen_at TEXT NOT NULL, scored_at TEXT NOT NULL, tickers TEXT NOT NULL DEFAULT '[]',
    label TEXT NOT NULL, p_negative REAL NOT NULL, p_neutral REAL NOT NULL,
    p_positive REAL NOT NULL, score REAL NOT NULL, model_version TEXT NOT NULL);
INSERT INTO signals VALUES ('sig1', 'story1', 'feed-a', 'Old headline',
    'https://News.example/old?utm_source=x', 'g1', NULL, NULL, '2026-11-01T00:00:00.000000Z',
    '2026-11-01T00:00:01.000000Z', '[]', 'neutral', 0.1, 0.8, 0.1, 0.0, 'v0');
CREATE TABLE feed_state (feed_id TEXT PRIMARY KEY, state TEXT NOT NULL);
INSERT INTO feed_state VALUES ('feed-a',
    '{"feed_id": "feed-a", "items_seen": 12, "signals_written": 7}');
"""


def test_sqlite_migrates_a_version_1_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
    store = SQLiteSignalStore(path)
    old = store.get("sig1")
    assert old is not None and old.title == "Old headline" and old.flags == []
    key = make_link_key("feed-a", "https://news.example/old")
    assert store.existing_link_keys([key]) == {key}
    with store._conn() as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    assert store.get_feed_states()["feed-a"].signals_written == 7  # counters kept
    store.add_items_seen("feed-a", 5)
    assert store.get_feed_states()["feed-a"].items_seen == 12 + 5
    store.close()


def test_feed_counters_change_by_increments_only(store: SignalStore) -> None:
    store.put_feed_state(FeedState(feed_id="feed-a", url="http://a/1"))
    assert store.put_many([make_signal(i) for i in range(3)]).written == 3
    assert store.put_many([make_signal(1), make_signal(9)]).written == 1  # one repeat
    store.add_items_seen("feed-a", 4)
    store.add_items_seen("feed-a", 1)
    # A writer holding a stale state never overwrites what others counted.
    store.put_feed_state(FeedState(feed_id="feed-a", url="http://a/2", items_seen=999,
                                   signals_written=999))
    st = store.get_feed_states()["feed-a"]
    assert (st.items_seen, st.signals_written, st.url) == (5, 4, "http://a/2")
    # A feed first seen through its signals has a state with its count.
    store.put_many([make_signal(20, source="feed-b")])
    assert store.get_feed_states()["feed-b"].signals_written == 1


def test_store_url_sets_the_parallel_writes(moto_endpoint: str) -> None:
    from core.errors import ConfigError

    url = f"dynamodb://t?region=us-east-1&endpoint_url={moto_endpoint}"
    store = build_store(url + "&workers=3")
    assert isinstance(store, DynamoDBSignalStore) and store.workers == 3
    assert build_store(url).workers == 8  # type: ignore[attr-defined]
    for bad in ("0", "65", "x"):
        with pytest.raises(ConfigError, match="workers must be 1-64"):
            build_store(url + f"&workers={bad}")


def test_a_foreign_or_forged_cursor_fails_before_the_backend_is_called(
        store: SignalStore) -> None:
    """A cursor issued for ticker X, replayed for ticker Y or for a source, and a cursor that
    decodes but has the wrong keys: 422-class input errors, and DynamoDB never sees them."""
    import base64

    store.put_many([make_signal(i, tickers=["X"]) for i in range(3)]
                   + [make_signal(i + 10, tickers=["Y"]) for i in range(3)])
    page = store.query(ticker="X", limit=1)
    assert page.next_cursor
    calls: list[str] = []
    if isinstance(store, DynamoDBSignalStore):
        inner = store.client

        class Counting:
            def __getattr__(self, name: str) -> Any:
                calls.append(name)
                return getattr(inner, name)

        store.client = Counting()
    forged = base64.urlsafe_b64encode(json.dumps({"pk": "SIG#x", "zz": "1"}).encode()).decode()
    for kwargs in ({"ticker": "Y", "cursor": page.next_cursor},
                   {"source": "src", "cursor": page.next_cursor},
                   {"ticker": "X", "cursor": forged}):
        with pytest.raises(InvalidInputError) as info:
            store.query(limit=1, **kwargs)  # type: ignore[arg-type]
        assert info.value.field == "cursor"
    assert calls == []


def test_entities_round_trip_and_ticker_queries_follow_roles(store: SignalStore) -> None:
    from tests.support.builders import make_entity_signal

    # Headline negative; toward Tesla negative, Ford (mentioned) positive; DB is the rater.
    a = make_entity_signal(1, [("DB", "rater", (0.1, 0.8, 0.1)),
                               ("TSLA", "subject", (0.9, 0.05, 0.05)),
                               ("F", "mentioned", (0.05, 0.05, 0.9))], probs=(0.8, 0.1, 0.1))
    b = make_entity_signal(2, [("F", "subject", (0.1, 0.1, 0.8))], probs=(0.1, 0.1, 0.8))
    assert store.put_many([a, b]).written == 2
    got = store.get(a.signal_id)
    assert got == a and [e.role.value for e in got.entities] == ["rater", "subject",
                                                                   "mentioned"]
    assert a.tickers == ["TSLA", "F"]
    assert store.query(ticker="DB").items == []  # a rater never matches its ticker
    assert [s.signal_id for s in store.query(ticker="F").items] == [b.signal_id, a.signal_id]
    assert [s.signal_id for s in store.query(ticker="F", role="subject").items] == [
        b.signal_id]
    assert [s.signal_id for s in store.query(ticker="F", role="mentioned").items] == [
        a.signal_id]
    # The per-ticker summary reads the sentiment toward that company, not the headline's.
    (bucket,) = store.summary(ticker="F", bucket_seconds=86400)
    assert bucket.counts == {"negative": 0, "neutral": 0, "positive": 2}
    assert bucket.mean_score == pytest.approx((0.85 + 0.7) / 2)
    (tesla,) = store.summary(ticker="TSLA", bucket_seconds=86400)
    assert tesla.counts["negative"] == 1 and tesla.mean_score == pytest.approx(-0.85)
    (everything,) = store.summary(bucket_seconds=86400)
    assert everything.counts == {"negative": 1, "neutral": 0, "positive": 1}


def test_sqlite_migrates_a_populated_version_3_store(tmp_path: Path) -> None:
    """A copy of a store the previous release wrote (tests/fixtures/signals-v3.db, schema 3:
    40 signals, tickers, feed state): every signal, count and query survives; old signals
    simply have no entities; their first scores land in the per-version tables."""
    import shutil
    import sqlite3

    path = tmp_path / "copy.db"
    shutil.copy(Path(__file__).parents[1] / "fixtures" / "signals-v3.db", path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 3
        before = conn.execute("SELECT signal_id, title, label, score, tickers FROM signals "
                              "ORDER BY signal_id").fetchall()
        ticker_rows = conn.execute("SELECT COUNT(*) FROM signal_tickers").fetchone()[0]
    store = SQLiteSignalStore(path)
    try:
        page = store.query(limit=1000)
        assert len(page.items) == len(before) == 40
        after = sorted((s.signal_id, s.title, s.label.value, s.score, json.dumps(s.tickers))
                       for s in page.items)
        assert after == [tuple(r) for r in before]
        assert all(s.entities == [] for s in page.items)
        assert len(store.query(ticker="TSLA", limit=1000).items) == 16
        assert store.query(ticker="TSLA", role="subject").items == []  # roles unknown before
        assert store.get_feed_states()["wire"].items_seen == 25
        with store._conn() as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 4
            assert tuple(conn.execute("SELECT COUNT(*), SUM(first) FROM signal_scores"
                                      ).fetchone()) == (40, 40)
            assert conn.execute("SELECT COUNT(*) FROM ticker_scores").fetchone()[0] == (
                ticker_rows)
        # New signals with entities go in beside the old ones.
        from tests.support.builders import make_entity_signal

        assert store.put_many([make_entity_signal(99, [("TSLA", "subject",
                                                        (0.1, 0.1, 0.8))])]).written == 1
        assert len(store.query(ticker="TSLA", role="subject").items) == 1
    finally:
        store.close()
    reopened = SQLiteSignalStore(path)  # idempotent: opening again migrates nothing
    assert len(reopened.query(limit=1000).items) == 41
    reopened.close()


def test_event_filter_and_round_trip(store: SignalStore) -> None:
    tagged = [make_signal(i, tickers=["NOK"]).model_copy(update={"events": events})
              for i, events in enumerate([["guidance_cut"], ["guidance_cut", "layoffs"], [],
                                           ["buyback"]])]
    store.put_many(tagged)
    assert store.get(tagged[1].signal_id).events == ["guidance_cut", "layoffs"]  # type: ignore[union-attr]
    cut = store.query(event="guidance_cut").items
    assert sorted(s.signal_id for s in cut) == sorted(s.signal_id for s in tagged[:2])
    assert [s.signal_id for s in store.query(event="buyback", ticker="NOK").items] == \
        [tagged[3].signal_id]
    assert store.query(event="recall").items == []
    buckets = store.summary(event="guidance_cut", bucket_seconds=86400)
    assert sum(b.total for b in buckets) == 2
    # paging under a filter covers the matches once
    first = store.query(event="guidance_cut", limit=1)
    second = store.query(event="guidance_cut", limit=1, cursor=first.next_cursor)
    assert {first.items[0].signal_id, second.items[0].signal_id} == \
        {s.signal_id for s in tagged[:2]}


def _rescored(sig: Any, version: str, probs: tuple[float, float, float]) -> Any:
    from core.models import Prediction
    from core.versions import rescored

    p = Prediction.from_probabilities(probs, version)
    return rescored(sig, p, [p] * len(sig.entities), version, T0 + timedelta(days=1))


def test_scores_by_version_queries_summaries_and_missing(store: SignalStore) -> None:
    from core.ports import VersionedStore
    from tests.support.builders import make_entity_signal

    assert isinstance(store, VersionedStore)
    sigs = [make_entity_signal(i, [("NOK", "subject", (0.1, 0.2, 0.7))]) for i in range(6)]
    store.put_many(sigs)
    total, versions = store.versions()
    assert total == 6 and [(v["version"], v["scored"], v["first_scores"]) for v in versions] \
        == [("test-v1", 6, 6)]
    assert store.active_version() == "test-v1"
    assert store.missing("v2") == 6
    # score four of them by v2 (negative): the first scores stay as they were
    todo = store.unscored("v2", limit=4)
    assert [s.signal_id for s in todo] == [s.signal_id for s in sigs[:4]]  # oldest first
    assert store.put_scores([_rescored(s, "v2", (0.8, 0.1, 0.1)) for s in todo]) == 4
    store.put_scores([_rescored(s, "v2", (0.8, 0.1, 0.1)) for s in todo])  # twice: no change
    _, versions = store.versions()
    assert {v["version"]: v["scored"] for v in versions} == {"test-v1": 6, "v2": 4}
    assert store.missing("v2") == 2
    after = (todo[-1].first_seen_at.isoformat().replace("+00:00", "Z"), todo[-1].signal_id)
    from core.timeutil import to_iso

    after = (to_iso(todo[-1].first_seen_at), todo[-1].signal_id)
    assert [s.signal_id for s in store.unscored("v2", after=after)] == \
        [s.signal_id for s in sigs[4:]]
    page = store.query(model_version="v2")
    assert len(page.items) == 4 and {s.label.value for s in page.items} == {"negative"}
    assert all(s.model_version == "v2" and s.entity("NOK").label.value == "negative"  # type: ignore[union-attr]
               for s in page.items)
    first = store.query(model_version="test-v1")
    assert len(first.items) == 6 and {s.label.value for s in first.items} == {"positive"}
    assert store.get(sigs[0].signal_id).model_version == "test-v1"  # type: ignore[union-attr]
    # summaries never mix: v2's buckets hold only its 4 negatives
    v2 = store.summary(model_version="v2", bucket_seconds=86400)
    assert sum(b.counts.get("negative", 0) for b in v2) == 4 and sum(b.total for b in v2) == 4
    by_ticker = store.summary(model_version="v2", ticker="NOK", bucket_seconds=86400)
    assert sum(b.total for b in by_ticker) == 4 and by_ticker[0].mean_score < 0
    # point in time: first sightings up to as_of, first scores only
    as_of = sigs[2].first_seen_at
    then = store.query(model_version="test-v1", as_of=as_of)
    assert [s.signal_id for s in then.items] == [s.signal_id for s in reversed(sigs[:3])]
    assert store.query(model_version="v2", as_of=as_of).items == []  # v2 came later
    assert store.missing("v2", as_of=as_of) == 3
    assert store.scores([sigs[0].signal_id, sigs[5].signal_id], "v2").keys() == \
        {sigs[0].signal_id}
    assert store.scores([sigs[0].signal_id], "test-v1")[sigs[0].signal_id].label.value == \
        "positive"


def test_active_version_switch_is_logged(store: SignalStore) -> None:
    from core.ports import VersionedStore

    assert isinstance(store, VersionedStore)
    assert store.active_version() is None
    store.put_many([make_signal(i) for i in range(2)])
    store.set_active_version("test-v1", coverage=1.0, forced=False)
    store.set_active_version("v9", coverage=0.5, forced=True)
    assert store.active_version() == "v9"
    log = store.version_log()
    assert [(r["version"], r["previous"], r["forced"]) for r in log] == [
        ("test-v1", None, False), ("v9", "test-v1", True)]
