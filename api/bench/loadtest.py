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
from urllib.parse import urlsplit

import numpy as np
from tqdm import tqdm

DEFAULT_PRICES = Path(__file__).resolve().parents[2] / "dashboards" / "prices.json"


class _Connection:
    """A minimal HTTP/1.1 keep-alive client for one connection: the load generator shares the
    machine with the server, and httpx spent about 5 ms of CPU per request here (half a core at
    100 requests/s), which the server then lacks. This one spends a fraction of that."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, body: bytes, timeout: float) -> int:
        """POST body, read the whole response, return its status (reconnecting as needed)."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), timeout)
        assert self.reader is not None
        head = (f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        assert self.writer is not None
        self.writer.write(head.encode() + body)
        try:
            return await asyncio.wait_for(self._response(), timeout)
        except BaseException:
            self.close()
            raise

    async def _response(self) -> int:
        assert self.reader is not None
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _worker(conn: _Connection, headlines: Sequence[str], start: int, step: int,
                  deadline: float, rows: list[tuple[float, float, int]], t0: float) -> None:
    i = start
    try:
        while time.perf_counter() < deadline:
            body = json.dumps({"headline": headlines[i % len(headlines)]}).encode()
            i += step
            began = time.perf_counter()
            try:
                status = await conn.post_json(body, timeout=30.0)
            except (TimeoutError, OSError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError, IndexError):
                status = 0
                await asyncio.sleep(0.01)  # a refused connection must not spin
            rows.append((began - t0, (time.perf_counter() - began) * 1000, status))
    finally:
        conn.close()


async def run_step(base_url: str, headlines: Sequence[str], concurrency: int,
                   duration: float, warmup: float = 2.0) -> list[tuple[float, float, int]]:
    parts = urlsplit(base_url.rstrip("/") + "/classify")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"loadtest needs an http:// URL, got {base_url!r}")
    port = parts.port or 80

    async def phase(seconds: float, rows: list[tuple[float, float, int]]) -> None:
        t = time.perf_counter()
        await asyncio.gather(*(_worker(_Connection(parts.hostname or "", port, parts.path),
                                       headlines, k, concurrency, t + seconds, rows, t)
                               for k in range(concurrency)))

    if warmup:
        await phase(warmup, [])
    rows: list[tuple[float, float, int]] = []
    await phase(duration, rows)
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
        summary = csv.DictWriter(fh, fieldnames=list(steps[0]))
        summary.writeheader()
        summary.writerows(steps)
    title = f"{url} ({duration:g} s per step)"
    plots = plot(steps, cost_rows, out, title)
    result: dict[str, Any] = {
        "benchmark": "loadtest", "url": url, "duration_s": duration, "steps": steps,
        "costs": cost_rows, "prices": {k: prices[k] for k in ("region", "date", "currency")},
        "plots": [str(p) for p in plots]}
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
