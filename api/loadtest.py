"""`newsig loadtest`: drive POST /classify with real headlines at several concurrency levels,
write a CSV per step, a summary, and plots (throughput, latency percentiles, cost)."""

from __future__ import annotations

import asyncio
import csv
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from tqdm import tqdm

DEFAULT_PRICES = Path(__file__).resolve().parent.parent / "dashboards" / "prices.json"


async def _worker(client: httpx.AsyncClient, url: str, headlines: Sequence[str], start: int,
                  step: int, deadline: float, rows: list[tuple[float, float, int]],
                  t0: float) -> None:
    i = start
    while time.perf_counter() < deadline:
        text = headlines[i % len(headlines)]
        i += step
        began = time.perf_counter()
        try:
            resp = await client.post(url, json={"headline": text})
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        rows.append((began - t0, (time.perf_counter() - began) * 1000, status))


async def run_step(base_url: str, headlines: Sequence[str], concurrency: int,
                   duration: float, warmup: float = 2.0) -> list[tuple[float, float, int]]:
    url = base_url.rstrip("/") + "/classify"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        if warmup:
            warm: list[tuple[float, float, int]] = []
            t = time.perf_counter()
            await asyncio.gather(*(_worker(client, url, headlines, k, concurrency, t + warmup,
                                           warm, t) for k in range(concurrency)))
        rows: list[tuple[float, float, int]] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(_worker(client, url, headlines, k, concurrency, t0 + duration,
                                       rows, t0) for k in range(concurrency)))
    return rows


def summarise(rows: list[tuple[float, float, int]], concurrency: int, duration: float) -> dict:
    ok = np.array([lat for _, lat, status in rows if status == 200])
    return {
        "concurrency": concurrency,
        "requests": len(rows),
        "errors": sum(1 for _, _, status in rows if status != 200),
        "throughput_per_s": round(len(ok) / duration, 1),
        "p50_ms": round(float(np.percentile(ok, 50)), 2) if len(ok) else None,
        "p95_ms": round(float(np.percentile(ok, 95)), 2) if len(ok) else None,
        "p99_ms": round(float(np.percentile(ok, 99)), 2) if len(ok) else None,
        "mean_ms": round(float(ok.mean()), 2) if len(ok) else None,
    }


def costs(steps: list[dict], prices: dict) -> list[dict]:
    """Cost per million classifications for deployment options, from measured figures.

    Lambda: billed duration = the measured single-request latency (concurrency 1, one
    request at a time, as Lambda runs them), scaled by the CPU share Lambda gives each memory
    size relative to this machine's one core per request. Real-time instances: measured peak
    throughput scaled by vCPUs relative to this machine. Estimates, labelled as such."""
    import os

    cpus = os.cpu_count() or 1
    single = next((s for s in steps if s["concurrency"] == 1), steps[0])
    latency_s = (single["p50_ms"] or 0) / 1000
    peak = max(s["throughput_per_s"] for s in steps)
    out: list[dict] = []
    lam = prices["lambda"]
    for mb in lam["memory_mb"]:
        vcpu = min(mb * lam["vcpu_per_mb"], 1.0) or 1.0
        duration = latency_s / vcpu
        per_million = 1e6 * duration * (mb / 1024) * lam["gb_second"] + lam["per_million_requests"]
        out.append({"option": f"Lambda {mb} MB", "usd_per_million": round(per_million, 2),
                    "assumed_ms_per_request": round(duration * 1000, 1)})
    sls = prices["sagemaker_serverless"]
    payload_gb = 1e6 * 500 / 1e9  # ~500 bytes in and out per classification
    for mb in sls["memory_mb"]:
        per_million = (1e6 * latency_s * (mb / 1024) * sls["gb_second"]
                       + sls["per_gb_processed"] * payload_gb)
        out.append({"option": f"SageMaker serverless {mb} MB", "usd_per_million":
                    round(per_million, 2), "assumed_ms_per_request": round(latency_s * 1000, 1)})
    for name, spec in prices["sagemaker_realtime"].items():
        rate = peak * spec["vcpus"] / cpus
        per_million = spec["hourly"] / (rate * 3600) * 1e6 if rate else math.inf
        out.append({"option": f"SageMaker {name} (fully used)", "usd_per_million":
                    round(per_million, 2), "assumed_per_s": round(rate, 1)})
    return out


def plot(steps: list[dict], cost_rows: list[dict], out: Path, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conc = [s["concurrency"] for s in steps]

    def save(fig: object, ax: object, name: str) -> Path:
        ax.grid(alpha=.3, which="both")  # type: ignore[attr-defined]
        fig.tight_layout()  # type: ignore[attr-defined]
        fig.savefig(out / name, dpi=110)  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        return out / name

    def versus_concurrency(series: dict[str, str], ylabel: str, heading: str, name: str,
                           log_y: bool) -> Path:
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, label in series.items():
            ax.plot(conc, [s[key] for s in steps], marker="o", label=label)
        ax.set(xscale="log", yscale="log" if log_y else "linear", xlabel="concurrent clients",
               ylabel=ylabel, title=f"{heading}\n{title}")
        ax.set_xticks(conc, [str(c) for c in conc])
        if len(series) > 1:
            ax.legend()
        return save(fig, ax, name)

    paths = [
        versus_concurrency({"throughput_per_s": "throughput"}, "classifications / s",
                           "Throughput vs concurrency", "throughput.png", log_y=False),
        versus_concurrency({"p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}, "latency (ms)",
                           "Latency vs concurrency", "latency.png", log_y=True),
    ]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.barh([c["option"] for c in cost_rows], [c["usd_per_million"] for c in cost_rows],
            color="#2c7be5")
    ax.set(xlabel="USD per million classifications (estimate)", title="Cost per million")
    ax.invert_yaxis()
    paths.append(save(fig, ax, "cost.png"))
    return paths


def loadtest(url: str, headlines: Sequence[str], concurrency: Sequence[int], duration: float,
             out: Path, *, prices_file: Path = DEFAULT_PRICES, warmup: float = 2.0) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    steps = []
    for c in tqdm(concurrency, desc="loadtest", unit="step"):
        rows = asyncio.run(run_step(url, headlines, c, duration, warmup))
        with (out / f"concurrency_{c}.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["t_s", "latency_ms", "status"])
            w.writerows((round(t, 4), round(lat, 3), st) for t, lat, st in rows)
        steps.append(summarise(rows, c, duration))
    prices = json.loads(prices_file.read_text())
    cost_rows = costs(steps, prices)
    with (out / "summary.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(steps[0]))
        w.writeheader()
        w.writerows(steps)
    title = f"{url} ({duration:g} s per step)"
    plots = plot(steps, cost_rows, out, title)
    result: dict[str, Any] = {
        "benchmark": "loadtest", "url": url, "duration_s": duration, "steps": steps,
        "costs": cost_rows, "prices": {k: prices[k] for k in ("region", "date", "currency")},
        "plots": [str(p) for p in plots]}
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
