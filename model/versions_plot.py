"""`newsig versions diff A B --plot PNG`: the two versions' score distributions, and the label
mix and mean confidence per source under each (the start of a signal-quality report)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from core.models import Signal
from core.names import LABELS


def plot_diff(pairs: list[tuple[Signal, Signal]], a: str, b: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    bins = [i / 20 for i in range(-20, 21)]
    ax1.hist([x.score for x, _ in pairs], bins=bins, alpha=0.55, label=f"A {a[:16]}")
    ax1.hist([y.score for _, y in pairs], bins=bins, alpha=0.55, label=f"B {b[:16]}")
    ax1.set_xlabel("score (P(positive) - P(negative))")
    ax1.set_ylabel("signals")
    ax1.set_title(f"Score distributions ({len(pairs)} signals)")
    ax1.legend(fontsize=8)
    mix: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(LABELS, 0))
    conf: dict[tuple[str, str], list[float]] = defaultdict(list)
    for x, y in pairs:
        for who, s in (("A", x), ("B", y)):
            mix[(s.source_id, who)][s.label.value] += 1
            conf[(s.source_id, who)].append(max(s.probabilities.as_list()))
    keys = sorted(mix)[:16]
    left = [0.0] * len(keys)
    colours = {"negative": "#c62828", "neutral": "#90a4ae", "positive": "#2e7d32"}
    names = [f"{src[:14]} {who}" for src, who in keys]
    for label in LABELS:
        shares = [mix[k][label] / max(1, sum(mix[k].values())) for k in keys]
        ax2.barh(names, shares, left=left, color=colours[label], label=label)
        left = [lo + s for lo, s in zip(left, shares, strict=True)]
    for i, k in enumerate(keys):
        mean = sum(conf[k]) / len(conf[k])
        ax2.text(1.01, i, f"conf {mean:.2f}", va="center", fontsize=7)
    ax2.set_xlim(0, 1.2)
    ax2.set_title("Label mix and mean confidence per source")
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
