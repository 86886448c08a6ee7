"""Sentiment-shift detection on synthetic histories: a real shift alerts; the same signals
at shuffled times do not."""

from __future__ import annotations

import random
from datetime import timedelta

from core.alerts import ShiftConfig, detect, sentiment_index
from core.models import Signal
from tests.support.builders import T0, make_signal

NOW = T0 + timedelta(days=2)


def scored(i: int, score: float, minutes_ago: float) -> Signal:
    p_pos = max(0.0, score) + (1 - abs(score)) / 3
    p_neg = max(0.0, -score) + (1 - abs(score)) / 3
    s = make_signal(i, tickers=["ACME"], seen=NOW - timedelta(minutes=minutes_ago),
                    probs=(p_neg, 1 - p_pos - p_neg, p_pos))
    assert abs(s.score - score) < 1e-6
    return s


def history(rng: random.Random, *, shift: float) -> list[Signal]:
    base = [scored(i, max(-1, min(1, rng.gauss(0.1, 0.2))), rng.uniform(70, 60 * 24))
            for i in range(48)]
    recent = [scored(100 + i, max(-1, min(1, rng.gauss(0.1 + shift, 0.15))),
                     rng.uniform(1, 55)) for i in range(10)]
    return base + recent


def test_a_real_shift_alerts_in_its_direction() -> None:
    cfg = ShiftConfig()
    for seed in range(10):
        down = detect("ACME", history(random.Random(seed), shift=-0.7), NOW, cfg)
        assert down is not None and down.direction == "down", seed
        assert down.index.recent_count == 10 and down.index.baseline_count == 48
        up = detect("ACME", history(random.Random(seed), shift=+0.6), NOW, cfg)
        assert up is not None and up.direction == "up"


def test_no_shift_and_shuffled_histories_raise_nothing() -> None:
    cfg = ShiftConfig()
    for seed in range(30):
        rng = random.Random(seed)
        assert detect("ACME", history(rng, shift=0.0), NOW, cfg) is None
        shifted = history(rng, shift=-0.7)
        times = [s.first_seen_at for s in shifted]
        rng.shuffle(times)
        shuffled = [s.model_copy(update={"first_seen_at": t})
                    for s, t in zip(shifted, times, strict=True)]
        assert detect("ACME", shuffled, NOW, cfg) is None, seed


def test_too_few_signals_never_alert() -> None:
    few = [scored(i, 0.1, 200 + i) for i in range(12)] + [scored(50 + i, -0.9, 5 + i)
                                                          for i in range(3)]
    index, _ = sentiment_index("ACME", few, NOW, ShiftConfig())
    assert index.delta is not None and index.delta < -0.9
    assert detect("ACME", few, NOW, ShiftConfig()) is None  # 3 < min_recent
