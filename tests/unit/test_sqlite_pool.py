"""SQLite connections are bounded and closed, however many threads come and go."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from core.adapters.sqlite_store import SQLiteSignalStore
from tests.support.builders import make_signal


def _fds(db: Path) -> int:
    """Open descriptors of this process on the database file (and its -wal / -shm)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink(f"/proc/self/fd/{fd}").startswith(str(db))
        except OSError:
            continue
    return n


def test_threads_that_come_and_go_leave_at_most_the_pool_open(tmp_path: Path) -> None:
    db = tmp_path / "pool.db"
    store = SQLiteSignalStore(db, pool_size=3)
    store.put_many([make_signal(i) for i in range(20)])
    for _burst in range(6):  # like a server's thread pool retiring threads between bursts
        threads = [threading.Thread(target=lambda: store.query(limit=5)) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.open_connections <= 3
        assert _fds(db) <= 3 * 3  # each connection: the db, its WAL and shm
    store.close()
    assert store.open_connections == 0 and _fds(db) == 0


def test_a_failed_transaction_never_returns_to_the_pool(tmp_path: Path) -> None:
    store = SQLiteSignalStore(tmp_path / "tx.db", pool_size=2)
    try:
        with store._write() as conn:
            conn.execute("INSERT INTO feed_state (feed_id, state) VALUES ('a', '{}')")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.get_feed_states() == {}  # rolled back, and the pool still works
    store.close()
