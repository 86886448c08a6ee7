"""Classification metrics in plain numpy (no scikit-learn needed to serve or evaluate)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.names import LABELS


def confusion(y_true: Sequence[str], y_pred: Sequence[str]) -> np.ndarray:
    """Rows = true label, columns = predicted label, in LABELS order."""
    index = {label: i for i, label in enumerate(LABELS)}
    m = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        m[index[t], index[p]] += 1
    return m


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    m = confusion(y_true, y_pred)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    tp = np.diag(m).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    n = int(m.sum())
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "macro_f1": float(f1.mean()),
        "weighted_f1": float((f1 * support).sum() / n) if n else 0.0,
        "per_label": {label: {"precision": float(precision[i]), "recall": float(recall[i]),
                              "f1": float(f1[i]), "support": int(support[i])}
                      for i, label in enumerate(LABELS)},
        "labels": list(LABELS),
        "confusion_matrix": m.tolist(),
    }
