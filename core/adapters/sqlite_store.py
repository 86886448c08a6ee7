"""SQLite signal store: one file, WAL, a schema version table, one connection per thread."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

from core.adapters.common import fold_buckets, unique_batch
from core.cursor import decode_cursor, encode_cursor, query_fingerprint
from core.errors import StoreError, StoreUnavailableError
from core.models import FeedState, Probabilities, PutResult, Signal, SignalPage, SummaryBucket
from core.text import make_link_key, normalise_ticker
from core.timeutil import from_iso, to_iso

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signals (
    signal_id      TEXT PRIMARY KEY,
    story_id       TEXT NOT NULL,
    source_id      TEXT NOT NULL,
    title          TEXT NOT NULL,
    link           TEXT,
    guid           TEXT,
    summary        TEXT,
    published_at   TEXT,
    first_seen_at  TEXT NOT NULL,
    scored_at      TEXT NOT NULL,
    tickers        TEXT NOT NULL DEFAULT '[]',
    label          TEXT NOT NULL,
    p_negative     REAL NOT NULL,
    p_neutral      REAL NOT NULL,
    p_positive     REAL NOT NULL,
    score          REAL NOT NULL,
    model_version  TEXT NOT NULL,
    link_key       TEXT,
    flags          TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS signal_tickers (
    ticker         TEXT NOT NULL,
    signal_id      TEXT NOT NULL REFERENCES signals (signal_id),
    first_seen_at  TEXT NOT NULL,
    PRIMARY KEY (ticker, signal_id)
);
CREATE TABLE IF NOT EXISTS feed_state (
    feed_id        TEXT PRIMARY KEY,
    state          TEXT NOT NULL
);
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS signals_by_time ON signals (first_seen_at DESC, signal_id DESC);
CREATE INDEX IF NOT EXISTS signals_by_source
    ON signals (source_id, first_seen_at DESC, signal_id DESC);
CREATE INDEX IF NOT EXISTS signals_by_story ON signals (story_id, first_seen_at, signal_id);
CREATE INDEX IF NOT EXISTS signals_by_link ON signals (link_key);
CREATE INDEX IF NOT EXISTS tickers_by_time
    ON signal_tickers (ticker, first_seen_at DESC, signal_id DESC);
"""

_COLUMNS = ("signal_id", "story_id", "source_id", "title", "link", "guid", "summary",
            "published_at", "first_seen_at", "scored_at", "tickers", "label",
            "p_negative", "p_neutral", "p_positive", "score", "model_version", "link_key",
            "flags")
_SELECT = ", ".join(f"s.{c}" for c in _COLUMNS)
_MAX_PARAMS = 500


def _row(signal: Signal) -> tuple[Any, ...]:
    p = signal.probabilities
    return (signal.signal_id, signal.story_id, signal.source_id, signal.title, signal.link,
            signal.guid, signal.summary,
            to_iso(signal.published_at) if signal.published_at else None,
            to_iso(signal.first_seen_at), to_iso(signal.scored_at),
            json.dumps(signal.tickers), signal.label.value,
            p.negative, p.neutral, p.positive, signal.score, signal.model_version,
            signal.link_key, json.dumps(signal.flags))


def _signal(row: sqlite3.Row) -> Signal:
    return Signal(
        signal_id=row["signal_id"], story_id=row["story_id"], source_id=row["source_id"],
        title=row["title"], link=row["link"], guid=row["guid"], summary=row["summary"],
        published_at=from_iso(row["published_at"]) if row["published_at"] else None,
        first_seen_at=from_iso(row["first_seen_at"]), scored_at=from_iso(row["scored_at"]),
        tickers=json.loads(row["tickers"]), flags=json.loads(row["flags"]), label=row["label"],
        probabilities=Probabilities(negative=row["p_negative"], neutral=row["p_neutral"],
                                    positive=row["p_positive"]),
        score=row["score"], model_version=row["model_version"],
    )


class SQLiteSignalStore:
    """Signals in one SQLite file (WAL). Safe for many threads: one connection each."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create folder for {self.path}: {exc}") from exc
        with self._translate():
            self._conn().executescript(_SCHEMA)  # idempotent; commits on its own
        with self._translate(), self._write() as conn:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {row[0]}, newer than this "
                                 f"code's {SCHEMA_VERSION}: upgrade news-signals")
            elif row[0] < SCHEMA_VERSION:
                _migrate(conn, row[0])
        with self._translate():
            self._conn().executescript(_INDEXES)

    # -- connections ---------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s,
                                       isolation_level=None, check_same_thread=False)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {self.path}: {exc}") from exc
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._conns_lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreUnavailableError(f"signal store {self.path} is busy: {exc}") from exc
            raise StoreError(f"signal store {self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"signal store {self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- SignalStore -----------------------------------------------------------------
    def put_many(self, signals: Iterable[Signal]) -> PutResult:
        batch, repeats = unique_batch(signals)
        if not batch:
            return PutResult(written=0, duplicates=repeats)
        rows = [_row(s) for s in batch]
        tickers = [(t, s.signal_id, to_iso(s.first_seen_at)) for s in batch for t in s.tickers]
        placeholders = ", ".join("?" * len(_COLUMNS))
        with self._translate(), self._write() as conn:
            cur = conn.executemany(
                f"INSERT OR IGNORE INTO signals ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                rows)
            written = max(cur.rowcount, 0)
            if tickers:
                conn.executemany("INSERT OR IGNORE INTO signal_tickers (ticker, signal_id, "
                                 "first_seen_at) VALUES (?, ?, ?)", tickers)
        return PutResult(written=written, duplicates=len(rows) - written + repeats)

    def _existing(self, column: str, values: Iterable[str]) -> set[str]:
        wanted = [v for v in dict.fromkeys(values) if v]
        found: set[str] = set()
        with self._translate():
            conn = self._conn()
            for i in range(0, len(wanted), _MAX_PARAMS):
                chunk = wanted[i:i + _MAX_PARAMS]
                marks = ",".join("?" * len(chunk))
                q = f"SELECT DISTINCT {column} FROM signals WHERE {column} IN ({marks})"
                found.update(r[0] for r in conn.execute(q, chunk))
        return found

    def existing_ids(self, signal_ids: Iterable[str]) -> set[str]:
        return self._existing("signal_id", signal_ids)

    def existing_link_keys(self, link_keys: Iterable[str]) -> set[str]:
        return self._existing("link_key", link_keys)

    def get(self, signal_id: str) -> Signal | None:
        with self._translate():
            row = self._conn().execute(
                f"SELECT {_SELECT} FROM signals s WHERE s.signal_id = ?", (signal_id,)).fetchone()
        return _signal(row) if row else None

    def _filters(self, source: str | None, ticker: str | None, since: datetime | None,
                 until: datetime | None) -> tuple[str, list[Any], str]:
        where: list[str] = []
        params: list[Any] = []
        if ticker:
            table = "signal_tickers t JOIN signals s ON s.signal_id = t.signal_id"
            time_col = "t.first_seen_at"
            where.append("t.ticker = ?")
            params.append(normalise_ticker(ticker))
        else:
            table = "signals s"
            time_col = "s.first_seen_at"
        if source:
            where.append("s.source_id = ?")
            params.append(source)
        if since:
            where.append(f"{time_col} >= ?")
            params.append(to_iso(since))
        if until:
            where.append(f"{time_col} < ?")
            params.append(to_iso(until))
        return table, params, " AND ".join(where) if where else "1=1"

    def query(self, *, source: str | None = None, ticker: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              limit: int = 100, cursor: str | None = None,
              distinct_story: bool = False) -> SignalPage:
        limit = max(1, min(int(limit), 1000))
        table, params, where = self._filters(source, ticker, since, until)
        if distinct_story:
            # Only a story's earliest sighting (ever, within the source filter): a story
            # syndicated later is not new news, so it must not reappear in a later window.
            same_source = " AND e.source_id = s.source_id" if source else ""
            where += (" AND NOT EXISTS (SELECT 1 FROM signals e WHERE e.story_id = s.story_id"
                      f"{same_source} AND (e.first_seen_at < s.first_seen_at OR "
                      "(e.first_seen_at = s.first_seen_at AND e.signal_id < s.signal_id)))")
        fingerprint = query_fingerprint("sqlite", source, ticker, since, until, distinct_story)
        if cursor:
            fields = decode_cursor(cursor, ("t", "id"), query=fingerprint)
            seen, sid = fields["t"], fields["id"]
            where += " AND (s.first_seen_at < ? OR (s.first_seen_at = ? AND s.signal_id < ?))"
            params += [seen, seen, sid]
        sql = (f"SELECT {_SELECT} FROM {table} WHERE {where} "
               "ORDER BY s.first_seen_at DESC, s.signal_id DESC LIMIT ?")
        with self._translate():
            rows = self._conn().execute(sql, [*params, limit + 1]).fetchall()
        items = [_signal(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor({"t": last["first_seen_at"], "id": last["signal_id"]},
                                        query=fingerprint)
        return SignalPage(items=items, next_cursor=next_cursor)

    def latest(self, n: int = 20) -> list[Signal]:
        return self.query(limit=n).items

    def summary(self, *, source: str | None = None, ticker: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                bucket_seconds: int = 3600) -> list[SummaryBucket]:
        bucket_seconds = max(1, int(bucket_seconds))
        table, params, where = self._filters(source, ticker, since, until)
        sql = (f"SELECT (CAST(strftime('%s', substr(s.first_seen_at, 1, 19)) AS INTEGER) / ?) "
               f"* ? AS bucket, s.label AS label, COUNT(*) AS n, SUM(s.score) AS total "
               f"FROM {table} WHERE {where} GROUP BY bucket, s.label ORDER BY bucket")
        with self._translate():
            rows = self._conn().execute(sql, [bucket_seconds, bucket_seconds, *params]).fetchall()
        return fold_buckets((r["bucket"], r["label"], r["n"], r["total"]) for r in rows)

    def get_feed_states(self) -> dict[str, FeedState]:
        with self._translate():
            rows = self._conn().execute("SELECT state FROM feed_state").fetchall()
        states = [FeedState.model_validate_json(r[0]) for r in rows]
        return {st.feed_id: st for st in states}

    def put_feed_state(self, state: FeedState) -> None:
        with self._translate(), self._write() as conn:
            conn.execute("INSERT INTO feed_state (feed_id, state) VALUES (?, ?) ON CONFLICT "
                         "(feed_id) DO UPDATE SET state = excluded.state",
                         (state.feed_id, state.model_dump_json()))

    def health(self) -> dict[str, object]:
        with self._translate():
            n = self._conn().execute("SELECT COUNT(*) FROM signals").fetchone()[0]
        return {"backend": "sqlite", "path": str(self.path), "signals": n, "ok": True}

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._conns:
                with suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()
        self._local = threading.local()


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring an older file up to SCHEMA_VERSION inside the caller's transaction."""
    if version < 2:
        conn.execute("ALTER TABLE signals ADD COLUMN link_key TEXT")
        conn.execute("ALTER TABLE signals ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'")
        rows = conn.execute("SELECT signal_id, source_id, link FROM signals").fetchall()
        conn.executemany("UPDATE signals SET link_key = ? WHERE signal_id = ?",
                         [(make_link_key(r[1], r[2]), r[0]) for r in rows])
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
