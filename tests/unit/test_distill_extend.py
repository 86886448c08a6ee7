"""Extending a soft-label file: synthetic headlines under the labelling policy and variants of
the training headlines, labelled by a teacher (the tiny test model plays it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.names import LABELS
from model.data import FPB_TEST, load_labelled_csv, near_duplicate_key
from model.distill import (
    TransferSet,
    add_headline_variants,
    add_synthetic,
    read_soft_labels,
    write_soft_labels,
)

HEADLINES = ["Acme shares rose 12% after earnings", "Widget Corp profit fell to $3.5 million",
             "Globex up 4% premarket on upgrade", "Initech to hold results call on March 3"]


def _base(path: Path) -> Path:
    ts = TransferSet(list(HEADLINES), ["headlines_train"] * len(HEADLINES),
                     ["positive", "negative", "positive", "neutral"])
    probs = np.full((len(HEADLINES), 3), 1 / 3)
    return write_soft_labels(path, ts, probs, {"split_seed": 42, "command": "test"})


def _extended(extend: Callable[..., dict], teacher: Path, tmp: Path, source: str, **kw: int
              ) -> tuple[dict, Any, list[tuple[str, str | None, np.ndarray]]]:
    """`extend` run on the base file: its result, the file it wrote, and the rows it added."""
    out = tmp / f"{source}.csv"
    result = extend(teacher, _base(tmp / "soft.csv"), out, progress=False, **kw)
    soft = read_soft_labels(out)
    assert soft.texts[:len(HEADLINES)] == HEADLINES  # the source's rows kept, in order
    rows = [(t, g, p) for t, s, g, p in zip(soft.texts, soft.sources, soft.gold, soft.probs,
                                            strict=True) if s == source]
    return result, soft, rows


def test_headline_variants_are_new_unlabelled_rows_from_the_training_headlines(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    result, soft, added = _extended(add_headline_variants, tiny_model_dir, tmp_path,
                                    "headlines_augmented", per_sentence=2)
    new = [(t, g) for t, g, _ in added]
    assert 4 <= len(new) == result["headlines_augmented"]["rows"] <= 2 * len(HEADLINES)
    assert all(g is None for _, g in new) and not {t for t, _ in new} & set(HEADLINES)
    np.testing.assert_allclose(soft.probs.sum(axis=1), 1.0, atol=1e-6)
    assert soft.provenance["command"] == "test" and "policy" not in result["headlines_augmented"]


def test_synthetic_rows_follow_the_policy_where_the_teacher_disagrees(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    result, _, rows = _extended(add_synthetic, tiny_model_dir, tmp_path, "synthetic",
                                per_template=2)
    policy = result["synthetic"]["policy"]
    assert policy["rows_with_label"] == sum(g is not None for _, g, _ in rows) > 0
    # Every labelled row now agrees with its policy label: kept where the (random) tiny
    # teacher agreed, overruled (at 0.9) where it did not.
    assert all(LABELS[int(p.argmax())] == g for _, g, p in rows if g is not None)
    overruled = sum(1 for _, g, p in rows if g is not None and abs(p.max() - 0.9) < 1e-9)
    assert overruled == policy["teacher_overruled"] > 0
    held = {near_duplicate_key(t) for t in load_labelled_csv(FPB_TEST)[0]}
    assert not any(near_duplicate_key(t) in held for t, _, _ in rows)
