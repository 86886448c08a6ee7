"""`newsig bench ingest`: a local server with many feeds, one pass into a fresh SQLite store,
then a second pass (everything 304 or already seen)."""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from tqdm import tqdm

from api.bench.feedserver import FeedServer, Route, rss
from core.adapters.sqlite_store import SQLiteSignalStore
from core.models import FeedConfig
from core.ports import Classifier
from core.service import SignalService
from core.settings import Settings
from ingest.pipeline import Ingestor


def _feed_body(feed: int, headlines: Sequence[str], items: int) -> bytes:
    entries = []
    for j in range(items):
        title = headlines[(feed * items + j) % len(headlines)]
        entries.append({"title": escape(title), "guid": f"bench-{feed}-{j}",
                        "link": f"https://news.example/{feed}/{j}",
                        "pubDate": "Mon, 23 Nov 2026 08:00:00 GMT"})
    return rss(entries, title=f"Bench feed {feed}")


def _one_run(server: FeedServer, feeds: list[FeedConfig], classifier: Classifier,
             settings: Settings) -> dict:
    with tempfile.TemporaryDirectory(prefix="newsig-bench-") as tmp:
        store = SQLiteSignalStore(Path(tmp) / "signals.db")
        try:
            ingestor = Ingestor.from_settings(settings, SignalService(store, classifier))
            t0 = time.perf_counter()
            first = ingestor.run_once(feeds)
            first_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            second = ingestor.run_once(feeds)
            second_s = time.perf_counter() - t0
        finally:
            store.close()
    return {
        "first_pass_s": round(first_s, 3),
        "first_pass_items_per_s": round(first.entries_seen / first_s, 1),
        "first_pass_signals_written": first.signals_written,
        "first_pass_feeds_ok": first.feeds_ok,
        "second_pass_s": round(second_s, 3),
        "second_pass_not_modified": second.feeds_not_modified,
        "second_pass_signals_written": second.signals_written,
        "errors": first.errors + second.errors,
    }


def bench_ingest(classifier: Classifier, headlines: Sequence[str], *, feeds: int = 100,
                 items: int = 50, latency_ms: float = 100.0, runs: int = 3,
                 settings: Settings | None = None) -> dict:
    settings = settings or Settings()
    with FeedServer() as server:
        configs = []
        for i in range(feeds):
            server.routes[f"/feed/{i}.xml"] = Route(_feed_body(i, headlines, items),
                                                    delay=latency_ms / 1000, conditional=True)
            configs.append(FeedConfig(id=f"bench-{i}", url=server.url(f"/feed/{i}.xml")))
        classifier.classify(list(headlines[:64]))  # warm-up
        per_run = [_one_run(server, configs, classifier, settings)
                   for _ in tqdm(range(runs), desc="bench ingest", unit="run")]

    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in per_run), 3)

    return {
        "benchmark": "ingest",
        "feeds": feeds, "items_per_feed": items, "latency_ms": latency_ms,
        "fetch_concurrency": settings.fetch_concurrency,
        "model_version": classifier.model_version,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": runs,
        "first_pass_s": med("first_pass_s"),
        "first_pass_items_per_s": med("first_pass_items_per_s"),
        "signals_written": per_run[0]["first_pass_signals_written"],
        "second_pass_s": med("second_pass_s"),
        "goals": {"first_pass_under_s": 60, "second_pass_under_s": 3,
                  "met": med("first_pass_s") < 60 and med("second_pass_s") < 3},
        "per_run": per_run,
    }
