"""Two models on the same labelled sentences, paired: which sentences each gets right that
the other does not, and an exact McNemar test on those (the sentences both get right or
both get wrong say nothing about which is better).

For cross-validation folders (`newsig model cv --out A`, `--out B` with the same folds and
seed), each fold's test sentences go to that fold's two models and the counts are pooled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from core.names import LABELS, METRICS_FILE
from model.data import load_labelled_csv


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: under no difference each discordant sentence is a
    fair coin, so p = P(min(b, c) or fewer heads of b + c, either tail), capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_comparison(gold: Sequence[str], a: Sequence[str], b: Sequence[str]) -> dict:
    if not len(gold) == len(a) == len(b):
        raise ValueError("gold labels and both models' predictions must be the same length")
    a_only = sum(x == g != y for g, x, y in zip(gold, a, b, strict=True))
    b_only = sum(y == g != x for g, x, y in zip(gold, a, b, strict=True))
    n = len(gold)
    return {"n": n,
            "a_accuracy": round(sum(x == g for g, x in zip(gold, a, strict=True)) / n, 4),
            "b_accuracy": round(sum(y == g for g, y in zip(gold, b, strict=True)) / n, 4),
            "a_right_b_wrong": a_only, "b_right_a_wrong": b_only,
            "mcnemar_p": round(mcnemar_exact(a_only, b_only), 4)}


def predictions(model_dir: Path, texts: list[str], *, progress: bool = False) -> list[str]:
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.evaluate import predict_probs

    probs = predict_probs(OnnxClassifier(model_dir), texts, progress=progress)
    return [LABELS[i] for i in probs.argmax(axis=1)]


def compare_models(a: Path, b: Path, csv_path: Path, *, progress: bool = False) -> dict:
    texts, gold = load_labelled_csv(csv_path)
    return {"a": str(a), "b": str(b), "input": str(csv_path)} | paired_comparison(
        gold, predictions(a, texts, progress=progress), predictions(b, texts, progress=progress))


def compare_cv(a: Path, b: Path, *, progress: bool = False) -> dict:
    """Fold by fold (fold-K/test.csv, fold-K/model in both folders), then pooled."""
    folds = sorted(p.name for p in a.glob("fold-*") if (p / "model" / METRICS_FILE).exists())
    if not folds:
        raise ValueError(f"{a}: no finished folds (fold-K/model/metrics.json)")
    gold_all: list[str] = []
    pa: list[str] = []
    pb: list[str] = []
    per_fold = []
    for fold in folds:
        if not (b / fold / "model" / METRICS_FILE).exists():
            raise ValueError(f"{b / fold}: not finished; compare finished folds only")
        texts, gold = load_labelled_csv(a / fold / "test.csv")
        if load_labelled_csv(b / fold / "test.csv") != (texts, gold):
            raise ValueError(f"{fold}: the two folders tested on different sentences "
                             "(different folds or seed): not a paired comparison")
        ya = predictions(a / fold / "model", texts, progress=progress)
        yb = predictions(b / fold / "model", texts, progress=progress)
        per_fold.append({"fold": fold} | paired_comparison(gold, ya, yb))
        gold_all += gold
        pa += ya
        pb += yb
    return {"a": str(a), "b": str(b), "folds": per_fold,
            "pooled": paired_comparison(gold_all, pa, pb)}
