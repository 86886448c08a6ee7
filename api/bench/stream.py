"""`newsig bench stream`: what live-stream clients cost a real `newsig serve`, and whether a
burst reaches them whole.

A store is filled with `recent` signals of the last hour; `/health` p50 is timed with no
stream client, then with `clients` SSE clients connected (idle), in the same server run.
Then `burst` signals are written (from this process, into the same SQLite file, as an ingest
process would) while those clients listen, and the events each receives are counted."""

from __future__ import annotations

import http.client
import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from api.bench.server import running_server
from api.watch import after_connected
from core.adapters.sqlite_store import SQLiteSignalStore
from core.machine import machine_info
from core.models import Article, Prediction, Signal, utcnow


def _signals(start: int, n: int, *, spread_s: float = 0.0) -> list[Signal]:
    now = utcnow()
    out = []
    for i in range(start, start + n):
        seen = now - timedelta(seconds=spread_s * (1 - (i - start) / max(n, 1)))
        article = Article(source_id=f"feed-{i % 20}", title=f"Bench headline {i}",
                          guid=f"bench-{i}", first_seen_at=seen, tickers=["AAPL"] if i % 3
                          else [])
        pred = Prediction.from_probabilities((0.2, 0.3, 0.5), "bench")
        out.append(Signal.from_article(article, pred))
    return out


def _health_p50(base: str, n: int) -> float:
    host, _, port = base.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    samples = []
    try:
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("GET", "/health")
            conn.getresponse().read()
            samples.append((time.perf_counter() - t0) * 1000)
    finally:
        conn.close()
    return statistics.median(samples)


class _Listener(threading.Thread):
    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.ids = base, []  # type: ignore[var-annotated]
        self.connected = threading.Event()

    def run(self) -> None:  # ends with the server (the benchmark stops it)
        try:
            with httpx.stream("GET", f"{self.base}/signals/stream",
                              timeout=httpx.Timeout(10, read=120)) as resp:
                for ev in after_connected(resp.iter_lines(), self.connected.set):
                    if ev.event == "signal":
                        self.ids.append(ev.id)
        except httpx.HTTPError:
            pass
        finally:
            self.connected.set()


def bench_stream(model_dir: str | Path, *, clients: int = 50, recent: int = 10_000,
                 burst: int = 1_500, health_requests: int = 400, runs: int = 3
                 ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="newsig-bench-stream-") as tmp:
        db = Path(tmp) / "stream.db"
        store = SQLiteSignalStore(db)
        for i in range(0, recent, 1000):
            store.put_many(_signals(i, min(1000, recent - i), spread_s=3600))
        with running_server(Path(model_dir), store_url=f"sqlite:///{db}") as (base, _, _):
            # Without clients, then with them, in one server run (medians over runs).
            idle = [_health_p50(base, health_requests) for _ in range(runs)]
            listeners = [_Listener(base) for _ in range(clients)]
            for li in listeners:
                li.start()
            for li in listeners:
                li.connected.wait(30)
            time.sleep(1.0)
            busy = [_health_p50(base, health_requests) for _ in range(runs)]
            assert not any(li.ids for li in listeners)  # idle clients: nothing was stored
            # A burst, with the same clients still connected.
            t0 = time.perf_counter()
            for i in range(0, burst, 100):
                store.put_many(_signals(recent + i, min(100, burst - i)))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and min(len(li.ids) for li in listeners) < burst:
                time.sleep(0.05)
            delivered_s = time.perf_counter() - t0
            counts = [len(li.ids) for li in listeners]
            unique = [len(set(li.ids)) for li in listeners]
        store.close()
    p50_idle, p50_busy = statistics.median(idle), statistics.median(busy)
    return {
        "benchmark": "stream", "machine": machine_info(), "clients": clients,
        "recent_signals": recent,
        "health_p50_ms_no_clients": round(p50_idle, 3),
        "health_p50_ms_with_clients": round(p50_busy, 3),
        "health_p50_increase_ms": round(p50_busy - p50_idle, 3),
        "per_run": {"no_clients": [round(x, 3) for x in idle],
                    "with_clients": [round(x, 3) for x in busy]},
        "burst": burst, "burst_delivered_to_every_client_s": round(delivered_s, 2),
        "events_per_client": {"min": min(counts), "max": max(counts)},
        "duplicates_per_client_max": max(c - u for c, u in zip(counts, unique, strict=True)),
        "goals": {"health_increase_under_ms": 5, "every_client_gets_the_burst_once": True,
                  "met": p50_busy - p50_idle < 5 and min(counts) == burst == max(unique)
                  and max(counts) == burst},
    }
