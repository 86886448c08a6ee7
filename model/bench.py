"""`newsig bench classify`: single-sentence latency and batched throughput of the ONNX model."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.adapters.onnx_classifier import OnnxClassifier
from model.data import FPB_TEST, load_labelled_csv


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    arr = np.asarray(samples_ms)
    return {"p50_ms": round(float(np.percentile(arr, 50)), 3),
            "p90_ms": round(float(np.percentile(arr, 90)), 3),
            "p99_ms": round(float(np.percentile(arr, 99)), 3),
            "mean_ms": round(float(arr.mean()), 3)}


def bench_single(clf: OnnxClassifier, texts: list[str], *, runs: int) -> dict:
    """Each sentence alone (tokenizing included), every sentence once per run."""
    for t in texts[:20]:
        clf.classify([t])
    per_run = []
    for _ in tqdm(range(runs), desc="single", unit="run"):
        samples = []
        for t in texts:
            t0 = time.perf_counter()
            clf.classify([t])
            samples.append((time.perf_counter() - t0) * 1000)
        per_run.append(_percentiles(samples))
    return {k: round(statistics.median(r[k] for r in per_run), 3) for k in per_run[0]} | {
        "runs": runs, "sentences": len(texts), "per_run": per_run}


def bench_batched(clf: OnnxClassifier, texts: list[str], *, runs: int) -> dict:
    clf.classify(texts[:64])
    rates = []
    for _ in tqdm(range(runs), desc="batched", unit="run"):
        t0 = time.perf_counter()
        clf.classify(texts)
        rates.append(len(texts) / (time.perf_counter() - t0))
    return {"sentences_per_s": round(statistics.median(rates), 1),
            "per_run": [round(r, 1) for r in rates], "batch_size": clf.batch_size,
            "runs": runs, "sentences": len(texts)}


def bench_classify(model_dir: str | Path, *, model_file: str = "model.int8.onnx",
                   runs: int = 3, input_csv: str | Path = FPB_TEST, threads: int = 0,
                   batch_size: int = 32) -> dict:
    texts, _ = load_labelled_csv(input_csv)
    clf = OnnxClassifier(model_dir, model_file=model_file, threads=threads,
                         batch_size=batch_size)
    return {
        "benchmark": "classify",
        "model_dir": str(model_dir),
        "model_file": model_file,
        "model_version": clf.model_version,
        "input": str(input_csv),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "single": bench_single(clf, texts, runs=runs),
        "batched": bench_batched(clf, texts, runs=runs),
    }
