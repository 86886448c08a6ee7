"""`newsig bench rescore`: history rescored by another model version, against the machine's
in-process batched classify rate, in one run.

1. A SQLite store is filled with `signals` stored signals: real headlines (PhraseBank and the
   headline set, numbered so each is distinct), linked to their companies by the universe's
   linker, first-scored by a placeholder version `bench-seed` (setup, not measured).
2. The classify rate: the same model classifying a sample of the same headlines in batches of
   `batch` (OnnxClassifier.classify, every core), median of `runs`.
3. `core.versions.rescore` of the whole store with the model: time, rate, peak memory (RSS
   sampled every 50 ms, above the level before it started), and the rate's ratio to (2).
4. Query latency on that store (median of 25): today's query (each signal's first score),
   `model_version=` (the rescored version), `as_of=`, and the same for the summary.
5. The same rescore against DynamoDB in a moto server on 127.0.0.1 (`dynamodb_signals`,
   fewer: moto answers far slower than DynamoDB), with its rate.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.machine import machine_info
from core.models import Article, Prediction, Signal

SEED_VERSION = "bench-seed"


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss:
    def __init__(self) -> None:
        self.base = _rss_mb()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def headlines(n: int) -> list[str]:
    from model.data import FPB_TEST, TWITTER_TRAIN, load_labelled_csv

    base = load_labelled_csv(FPB_TEST)[0] + load_labelled_csv(
        TWITTER_TRAIN, numeric={"0": "negative", "1": "positive", "2": "neutral"})[0]
    return [f"{base[i % len(base)]} ({i})" for i in range(n)]


def make_signals(titles: list[str]) -> list[Signal]:
    """Stored signals for these titles, linked to their companies, with a placeholder first
    score (the setup of the benchmark; the rescore is what is measured)."""
    from core.entities import default_linker
    from core.models import tickers_of, utcnow

    linker = default_linker()
    start = utcnow() - timedelta(days=30)
    seed = Prediction.from_probabilities((0.2, 0.6, 0.2), SEED_VERSION)
    out = []
    for i, title in enumerate(titles):
        found, _ = linker.link(title)
        art = Article(source_id=f"feed-{i % 5}", title=title, guid=f"b{i}",
                      first_seen_at=start + timedelta(seconds=20 * i), entities=found,
                      tickers=tickers_of(found))
        out.append(Signal.from_article(art, seed, scored_at=art.first_seen_at,
                                       entity_predictions=[seed] * len(found)))
    return out


def classify_rate(clf: Any, titles: list[str], batch: int, runs: int) -> dict[str, Any]:
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        for i in range(0, len(titles), batch):
            clf.classify(titles[i:i + batch])
        rates.append(len(titles) / (time.perf_counter() - started))
    return {"median_per_s": round(statistics.median(rates), 1),
            "runs_per_s": [round(r, 1) for r in rates], "texts": len(titles)}


def _median_ms(call: Any, n: int = 25) -> float:
    call()
    times = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 3)


def query_latency(store: Any, version: str, signals: list[Signal]) -> dict[str, float]:
    mid = signals[len(signals) // 2].first_seen_at
    ticker = next((s.tickers[0] for s in signals if s.tickers), None)
    out = {"query_first_score_ms": _median_ms(lambda: store.query(limit=100)),
           "query_model_version_ms": _median_ms(lambda: store.query(limit=100,
                                                                    model_version=version)),
           "query_as_of_ms": _median_ms(lambda: store.query(limit=100, as_of=mid,
                                                            model_version=SEED_VERSION)),
           "summary_first_score_ms": _median_ms(lambda: store.summary(bucket_seconds=86400),
                                                5),
           "summary_model_version_ms": _median_ms(lambda: store.summary(
               bucket_seconds=86400, model_version=version), 5),
           "missing_count_ms": _median_ms(lambda: store.missing(version), 5)}
    if ticker:
        out["ticker"] = ticker  # type: ignore[assignment]
        out["query_ticker_ms"] = _median_ms(lambda: store.query(limit=100, ticker=ticker))
        out["query_ticker_model_version_ms"] = _median_ms(lambda: store.query(
            limit=100, ticker=ticker, model_version=version))
    return out


def _rescore_into(store: Any, clf: Any, batch: int) -> dict[str, Any]:
    from core.versions import rescore

    with PeakRss() as rss:
        result = rescore(store, clf, batch=batch, progress=False)
    return {**result.model_dump(), "peak_rss_above_start_mb": round(rss.peak - rss.base, 1),
            "peak_rss_mb": round(rss.peak, 1)}


def bench_rescore(model_dir: Path, *, signals: int = 100_000, dynamodb_signals: int = 2000,
                  batch: int = 256, runs: int = 3, classify_sample: int = 5000,
                  progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from core.adapters.onnx_classifier import OnnxClassifier
    from core.adapters.sqlite_store import SQLiteSignalStore

    clf = OnnxClassifier(model_dir)
    titles = headlines(signals)
    stored = make_signals(titles)
    result: dict[str, Any] = {"machine": machine_info(), "model_version": clf.model_version,
                              "signals": signals, "batch": batch}
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteSignalStore(Path(tmp) / "bench.db")
        for i in tqdm(range(0, len(stored), 2000), desc="fill store", disable=not progress):
            store.put_many(stored[i:i + 2000])
        sample = titles[:min(classify_sample, len(titles))]
        clf.classify(sample[:64])  # warm
        result["classify"] = classify_rate(clf, sample, batch, runs)
        result["sqlite"] = _rescore_into(store, clf, batch)
        rate = result["sqlite"]["rate_per_s"]
        result["sqlite"]["ratio_to_classify"] = round(rate / result["classify"]["median_per_s"],
                                                      3)
        result["sqlite"]["second_run_scored"] = _rescore_into(store, clf, batch)["scored"]
        result["queries"] = query_latency(store, clf.model_version, stored)
        store.close()
    if dynamodb_signals:
        result["dynamodb_moto"] = bench_dynamodb(clf, stored[:dynamodb_signals], batch)
    return result


def bench_dynamodb(clf: Any, stored: list[Signal], batch: int) -> dict[str, Any]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from api.bench.dynamodb import create_table
    from api.bench.server import free_port
    from core.adapters.dynamodb_store import DynamoDBSignalStore

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}",
                              region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench")
        create_table(client, "bench-signals")
        # One writer: the moto server is not thread-safe (parallel puts race inside it).
        store = DynamoDBSignalStore("bench-signals", client=client, workers=1)
        put = store.put_many(stored)
        out = _rescore_into(store, clf, batch)
        out["signals"] = put.written
        out["query_model_version_ms"] = _median_ms(
            lambda: store.query(limit=100, model_version=clf.model_version), 5)
        out["query_first_score_ms"] = _median_ms(lambda: store.query(limit=100), 5)
        return out
    finally:
        server.stop()
