"""`newsig bench classify`: single-sentence latency and batched throughput of the ONNX model."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.adapters.onnx_classifier import OnnxClassifier
from core.machine import machine_info
from core.names import MODEL_FILE, TOKENIZER_FILE
from model.data import FPB_TEST, load_labelled_csv, repo_relative


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
            "per_run": [round(r, 1) for r in rates], "rows": "one per model run, over the cores",
            "runs": runs, "sentences": len(texts)}


class OriginalServingPath:
    """The original project's serving path: DistilBERT-base (66M parameters; random weights,
    the same compute, as no checkpoint can be downloaded), PyTorch eager fp32, the tokenizer
    called per request, batch 1. DistilBERT-base-uncased shares BERT's uncased WordPiece
    vocabulary with our MiniLM, so our tokenizer.json stands in for its tokenizer.
    Built once; `run_pass` times one pass over the texts (so a benchmark can interleave its
    passes with the ones it compares against)."""

    def __init__(self, model_dir: str | Path) -> None:
        import torch
        from transformers import (
            DistilBertConfig,
            DistilBertForSequenceClassification,
            PreTrainedTokenizerFast,
        )

        self._torch = torch
        torch.manual_seed(0)
        config = DistilBertConfig(num_labels=3)  # type: ignore[call-arg]
        self.model = DistilBertForSequenceClassification(config).eval()
        self.tokenizer = PreTrainedTokenizerFast(
            tokenizer_file=str(Path(model_dir) / TOKENIZER_FILE))
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.torch_threads = torch.get_num_threads()

    def one(self, text: str) -> None:
        enc = self.tokenizer(text, truncation=True, max_length=128, return_tensors="pt")
        with self._torch.no_grad():
            self._torch.softmax(self.model(input_ids=enc["input_ids"],
                                           attention_mask=enc["attention_mask"]).logits, -1)

    def warm_up(self, texts: list[str]) -> None:
        for t in texts[:10]:
            self.one(t)

    def run_pass(self, texts: list[str]) -> dict[str, float]:
        samples = []
        for t in texts:
            t0 = time.perf_counter()
            self.one(t)
            samples.append((time.perf_counter() - t0) * 1000)
        return _percentiles(samples)

    def summary(self, per_run: list[dict[str, float]], sentences: int) -> dict:
        return {k: round(statistics.median(r[k] for r in per_run), 3) for k in per_run[0]} | {
            "runs": len(per_run), "sentences": sentences, "parameters": self.parameters,
            "torch_threads": self.torch_threads, "per_run": per_run}


def bench_original_serving_path(model_dir: str | Path, texts: list[str], *, runs: int) -> dict:
    """OriginalServingPath, `runs` passes over the texts after a warm-up."""
    original = OriginalServingPath(model_dir)
    original.warm_up(texts)
    per_run = [original.run_pass(texts)
               for _ in tqdm(range(runs), desc="original path", unit="run")]
    return original.summary(per_run, len(texts))


def op_profile(clf: OnnxClassifier, texts: list[str], *, runs: int = 1) -> dict:
    """Where a lone headline's model time goes, per operator type: every text alone through a
    session built as the classifier's lone-call session (same threads, same fusions) with
    onnxruntime's profiler on; per operator type, calls and microseconds per model run and
    the share of all operator time. The profiler adds a few microseconds per operator, so
    `model_run_p50_us` here is above the unprofiled model call."""
    import json
    import tempfile

    from core.adapters.onnx_classifier import make_session

    encoded = [clf.encode([t]) for t in texts]
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(clf.model_dir / clf.model_file, clf.session_threads[0],
                               profile_prefix=str(Path(tmp) / "ops"))
        for _ in tqdm(range(runs), desc="op profile", unit="run"):
            for ids in encoded:
                session.run(["logits"], clf.feed(ids))
        events = json.loads(Path(session.end_profiling()).read_text())
    model_runs = [e["dur"] for e in events if e.get("name") == "model_run"]
    per_op: dict[str, list[float]] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op.setdefault(e["args"]["op_name"], []).append(float(e["dur"]))
    n = max(1, len(model_runs))
    total = sum(sum(v) for v in per_op.values()) or 1.0
    ops = [{"op": op, "calls_per_run": round(len(v) / n, 2),
            "us_per_run": round(sum(v) / n, 1), "share": round(sum(v) / total, 4)}
           for op, v in sorted(per_op.items(), key=lambda kv: -sum(kv[1]))]
    return {"benchmark": "classify-ops", "model_dir": str(clf.model_dir),
            "model_file": clf.model_file, "model_version": clf.model_version,
            "machine": machine_info(), "threads": clf.session_threads[0],
            "sentences": len(texts), "model_runs": len(model_runs),
            "mean_tokens": round(float(np.mean([len(e[0]) for e in encoded])), 1),
            "model_run_p50_us": round(float(np.median(model_runs)), 1) if model_runs else None,
            "operator_us_per_run": round(total / n, 1), "ops": ops}


def bench_classify(model_dir: str | Path, *, model_file: str = MODEL_FILE,
                   runs: int = 3, input_csv: str | Path = FPB_TEST, threads: int = 0,
                   baseline: bool = False, baseline_runs: int = 1) -> dict:
    texts, _ = load_labelled_csv(input_csv)
    clf = OnnxClassifier(model_dir, model_file=model_file, threads=threads)
    result = _bench(clf, model_dir, model_file, input_csv, texts, runs)
    if baseline:
        original = bench_original_serving_path(model_dir, texts, runs=baseline_runs)
        result["original_serving_path"] = original
        result["speedup_p50"] = round(original["p50_ms"] / result["single"]["p50_ms"], 1)
        result["goals"] = {"speedup_p50_at_least": 10, "batched_at_least_per_s": 150,
                           "met": result["speedup_p50"] >= 10
                           and result["batched"]["sentences_per_s"] >= 150}
    return result


#: Headlines naming 0, 1, 2 and 4 companies (the names a linker finds in the universe).
_COMPANY_HEADLINES = {
    0: ["Profit rose to a record in the third quarter", "Board meets on Monday to discuss "
        "the dividend", "Shares fell after the company cut its outlook"],
    1: ["Nokia profit rose to a record in the third quarter", "Kone wins a large elevator "
        "order in China", "Tesla shares fell after deliveries missed estimates"],
    2: ["Nokia gains as Ericsson warns on 5G spending", "Macy's rises after beat while "
        "Kohl's slumps", "Pfizer wins patent case against Moderna"],
    4: ["Nokia, Elisa, Fortum and Kone lead Helsinki gains", "Tesla, Ford, GM and Toyota "
        "recall cars over brake faults", "Apple, Microsoft, Nvidia and Intel rally on AI "
        "demand"],
}


def bench_companies(clf: OnnxClassifier, *, runs: int = 3, repeat: int = 100) -> dict:
    """Per headline naming 0, 1, 2, 4 companies: the headline alone (before: every company
    took the headline's prediction) against the headline and the sentiment toward each
    company (after), p50 ms, medians over runs, interleaved."""
    from core.entities import default_linker

    linker = default_linker()
    out: dict[str, dict] = {}
    for k, texts in _COMPANY_HEADLINES.items():
        spans = [[e.span for e in linker.link(t)[0]] for t in texts]
        assert all(len(s) == k for s in spans), (k, spans)
        before: list[float] = []
        after: list[float] = []
        for _ in range(runs):
            for name, call in (("before", lambda t, s: clf.classify([t])),
                               ("after", lambda t, s: clf.classify_targets([(t, s)]))):
                samples = []
                for _ in range(repeat):
                    for t, sp in zip(texts, spans, strict=True):
                        t0 = time.perf_counter()
                        call(t, sp)
                        samples.append((time.perf_counter() - t0) * 1000)
                samples.sort()
                (before if name == "before" else after).append(samples[len(samples) // 2])
        b, a = statistics.median(before), statistics.median(after)
        out[str(k)] = {"before_p50_ms": round(b, 3), "after_p50_ms": round(a, 3),
                       "ratio": round(a / b, 3)}
    return {"targeted": clf.targeted, "companies": out}


def _bench(clf: OnnxClassifier, model_dir: str | Path, model_file: str,
           input_csv: str | Path, texts: list[str], runs: int) -> dict:
    return {
        "benchmark": "classify",
        "model_dir": str(model_dir),
        "model_file": model_file,
        "model_version": clf.model_version,
        "input": repo_relative(str(input_csv)),
        "machine": machine_info(),
        "single": bench_single(clf, texts, runs=runs),
        "batched": bench_batched(clf, texts, runs=runs),
        "per_companies": bench_companies(clf, runs=runs),
    }


def bench_tiers(fast_result: dict, model_dir: str | Path, teacher_dir: Path, *, runs: int,
                texts: list[str]) -> dict:
    """The accurate tier beside the fast one, in the same run: one sentence per call (mean,
    p50, p99) and batched throughput, the escalation rate, and the ratio of the means."""
    from core.adapters.cascade import CascadeClassifier, check_teacher_dir, read_threshold

    check_teacher_dir(teacher_dir)
    cascade = CascadeClassifier(OnnxClassifier(model_dir), OnnxClassifier(teacher_dir, spin=False),
                                threshold=read_threshold(teacher_dir))
    single = bench_single(cascade, texts, runs=runs)  # type: ignore[arg-type]
    batched = bench_batched(cascade, texts, runs=runs)  # type: ignore[arg-type]
    stats = dict(cascade.stats)
    cascade.close()
    fast_mean = fast_result["single"]["mean_ms"]
    return {"fast": {"single": {k: fast_result["single"][k] for k in
                                ("p50_ms", "p99_ms", "mean_ms")},
                     "batched_per_s": fast_result["batched"]["sentences_per_s"]},
            "accurate": {"model_version": cascade.model_version,
                         "threshold": cascade.threshold,
                         "escalated": round(stats["escalated"] / max(1, stats["texts"]), 4),
                         "single": {k: single[k] for k in ("p50_ms", "p99_ms", "mean_ms")},
                         "batched_per_s": batched["sentences_per_s"]},
            "accurate_over_fast_mean": round(single["mean_ms"] / fast_mean, 3),
            "goal_mean_at_most_3x": single["mean_ms"] <= 3 * fast_mean}
