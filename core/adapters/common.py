"""Pieces every store backend shares."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from core.models import Signal, SummaryBucket
from core.names import LABELS


def unique_batch(signals: Iterable[Signal]) -> tuple[list[Signal], int]:
    """The batch with repeated signal_ids dropped (first kept), and how many were dropped."""
    batch: dict[str, Signal] = {}
    repeats = 0
    for s in signals:
        if s.signal_id in batch:
            repeats += 1
        else:
            batch[s.signal_id] = s
    return list(batch.values()), repeats


def fold_buckets(rows: Iterable[tuple[int, str, int, float]]) -> list[SummaryBucket]:
    """(bucket_epoch, label, count, score_sum) rows -> SummaryBuckets, oldest first."""
    acc: dict[int, dict] = {}
    for bucket, label, n, total in rows:
        b = acc.setdefault(bucket, {"counts": dict.fromkeys(LABELS, 0), "n": 0, "sum": 0.0})
        b["counts"][label] = b["counts"].get(label, 0) + n
        b["n"] += n
        b["sum"] += total or 0.0
    return [SummaryBucket(start=datetime.fromtimestamp(k, UTC), counts=v["counts"], total=v["n"],
                          mean_score=v["sum"] / v["n"] if v["n"] else None)
            for k, v in sorted(acc.items())]
