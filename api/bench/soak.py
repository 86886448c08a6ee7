"""`newsig bench soak`: a real `newsig serve` under bursts of mixed traffic with idle gaps,
watching its open file descriptors and resident memory. A server that leaks (a connection per
retired thread, a cache without bound) grows from burst to burst; one that does not stays
flat. Prints JSON: samples, per-minute medians, and first vs last minute."""

from __future__ import annotations

import random
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from api.bench.server import process_stats, running_server
from core.machine import machine_info

HEADLINES = ["Nokia shares jump after record quarterly profit", "Profit warning sends shares "
             "lower", "Board meets Monday", "Bank cuts rates as inflation eases",
             "Tesla misses delivery estimates", "Apple raises dividend by 4%"]


def _one_request(client: httpx.Client, base: str, rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.5:
        r = client.post(f"{base}/classify", json={"headline": rng.choice(HEADLINES)})
    elif kind < 0.7:
        r = client.get(f"{base}/signals", params={"limit": rng.choice([5, 50, 200])})
    elif kind < 0.85:
        r = client.get(f"{base}/signals/summary", params={"bucket": rng.choice(["5m", "1h"])})
    elif kind < 0.95:
        r = client.get(f"{base}/health")
    else:
        r = client.get(f"{base}/feeds")
    return r.status_code


def soak(model_dir: Path, *, duration: float = 600.0, burst: float = 8.0, gap: float = 12.0,
         concurrency: int = 8, seed: int = 0) -> dict[str, Any]:
    """Bursts of `burst` seconds at `concurrency`, each followed by `gap` idle seconds; the
    server's fds and RSS are read after every burst and after every gap. Flatness compares
    the idle samples of the first and the last minute (what stays allocated)."""
    rng = random.Random(seed)
    with running_server(model_dir) as (base, _, pid):
        samples: list[dict[str, Any]] = []
        statuses: dict[int, int] = {}
        started = time.monotonic()
        while time.monotonic() - started < duration:
            burst_end = min(time.monotonic() + burst, started + duration)
            # A new client pool per burst: threads and connections come and go, as real
            # clients do, so the server's own pools retire and re-create threads.
            with httpx.Client(timeout=30) as client, ThreadPoolExecutor(concurrency) as ex:
                while time.monotonic() < burst_end:
                    for code in ex.map(lambda _: _one_request(client, base, rng),
                                       range(concurrency * 4)):
                        statuses[code] = statuses.get(code, 0) + 1
                samples.append({"t": round(time.monotonic() - started, 1),
                                "phase": "burst", **process_stats(pid)})
            # What the server keeps once the traffic has gone is what a leak shows in.
            if started + duration - time.monotonic() < gap:
                break
            time.sleep(gap)
            samples.append({"t": round(time.monotonic() - started, 1), "phase": "idle",
                            **process_stats(pid)})
    window = min(60.0, duration / 3)
    idle = [s for s in samples if s["phase"] == "idle"]
    first = [s for s in idle if s["t"] <= window + gap]
    last = [s for s in idle if s["t"] >= duration - window]

    def med(rows: list[dict[str, float]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows)) if rows else float("nan")

    summary = {k: {"first_window": med(first, k), "last_window": med(last, k),
                   "ratio_last_first": round(med(last, k) / med(first, k), 3)
                   if first and med(first, k) else None}
               for k in ("fds", "rss_mb")}
    flat = all(v["ratio_last_first"] is not None and v["ratio_last_first"] <= 1.10
               for v in summary.values())
    return {"benchmark": "soak", "duration_s": duration, "burst_s": burst, "gap_s": gap,
            "concurrency": concurrency, "window_s": window, "requests": statuses,
            "server_errors": sum(n for code, n in statuses.items() if code >= 500),
            "summary": summary, "flat_within_10_percent": flat, "samples": samples,
            "machine": machine_info()}

