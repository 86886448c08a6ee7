"""Temperature scaling (Guo et al., 2017): one scalar T fitted on validation logits so that
softmax(logits / T) is calibrated; expected calibration error and a reliability plot."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np


def _softmax(logits: np.ndarray, t: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / t
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    p = _softmax(logits, t)[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(p, 1e-12, None)).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, *, lo: float = 0.05,
                    hi: float = 20.0) -> float:
    """T minimising validation NLL: golden-section search on log T (NLL is unimodal in T)."""
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(80):
        if nll(logits, labels, float(np.exp(c))) < nll(logits, labels, float(np.exp(d))):
            b, d = d, c
            c = b - g * (b - a)
        else:
            a, c = c, d
            d = a + g * (b - a)
    return float(np.exp((a + b) / 2))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo_edge, hi_edge in itertools.pairwise(edges):
        mask = (conf > lo_edge) & (conf <= hi_edge)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


def reliability_plot(curves: dict[str, np.ndarray], labels: np.ndarray, path: Path,
                     bins: int = 10, title: str = "Reliability") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1, label="perfect")
    edges = np.linspace(0, 1, bins + 1)
    for name, probs in curves.items():
        conf = probs.max(axis=1)
        correct = probs.argmax(axis=1) == labels
        xs, ys = [], []
        for lo_edge, hi_edge in itertools.pairwise(edges):
            mask = (conf > lo_edge) & (conf <= hi_edge)
            if mask.sum() >= 5:
                xs.append(conf[mask].mean())
                ys.append(correct[mask].mean())
        ece = expected_calibration_error(probs, labels)
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
