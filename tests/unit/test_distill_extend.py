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


def test_headline_policy_reads_won_contracts_and_nothing_else() -> None:
    from model.synth import headline_policy

    wins = ["KBR wins $23.7M contract", "$LDOS - Leidos wins DoE contract https://t.co/x",
            "Capstone Turbine wins flare gas project order from Ecopetrol",
            "Comtech Telecommunications Corp. Awarded $1.2 Million Contract for TWTAs",
            "Wipro Wins Multi-Year Strategic IT Deal From Marelli",
            "Vestas secured a 300 MW order", "Nokia won a five-year services contract"]
    others = ["Boeing's Embattled Max Gets Key Win in First Post-Grounding Deal",
              "Goldrea Negotiating Land Package Deal in Dixie Lake, Ontario",
              "White House adviser says UK's 5G actions won't hinder trade deal",
              "Acreage secures financing that will not dilute terms of Canopy deal",
              "President awarded former ECB President Mario Draghi the Order of Merit",
              "Market Morning: Alibaba Win, Pimco Sees Deal By Christmas",
              "Acme loses EUR 20 million contract", "Order intake fell 5%"]
    assert [headline_policy(t) for t in wins] == ["positive"] * len(wins)
    assert [headline_policy(t) for t in others] == [None] * len(others)


def test_headline_policy_relabels_only_won_contract_headlines(tmp_path: Path) -> None:
    from model.distill import apply_headline_policy

    texts = ["KBR wins $23.7M contract", "KBR wins $22.7M contract",
             "Jacobs wins training contract", "Acme shares rose 12% after earnings",
             "Nokia wins EUR 5 million contract", "Nokia wins EUR 6 million contract"]
    sources = ["headlines_train", "headlines_augmented", "headlines_train", "headlines_train",
               "phrasebank_train", "synthetic"]
    gold = ["neutral", None, "positive", "positive", "neutral", "neutral"]
    probs = np.array([[0.02, 0.95, 0.03], [0.02, 0.96, 0.02], [0.1, 0.2, 0.7],
                      [0.1, 0.6, 0.3], [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    src = write_soft_labels(tmp_path / "in.csv", TransferSet(texts, sources, gold), probs,
                            {"split_seed": 42, "command": "test"})
    result = apply_headline_policy(src, tmp_path / "out.csv")
    out = read_soft_labels(tmp_path / "out.csv")
    assert out.texts == texts and out.sources == sources
    # the two headline rows the teacher called neutral: overruled at 0.9, gold follows
    assert out.gold[:2] == ["positive", None]
    np.testing.assert_allclose(out.probs[:2], [[0.05, 0.05, 0.9]] * 2)
    # a won contract the teacher already reads positive keeps the teacher's probabilities
    np.testing.assert_allclose(out.probs[2], probs[2])
    # not a contract headline, or not a real headline: untouched
    assert out.gold[3:] == gold[3:]
    np.testing.assert_allclose(out.probs[3:], probs[3:])
    assert result["headline_policy"] | {"date": None} == {
        "rows": 3, "gold_overruled": 1, "teacher_overruled": 2, "date": None,
        "rule": "model/synth.py headline_policy",
        "command": "newsig model teacher label --apply-headline-policy"}
    assert out.provenance["command"] == "test"
    again = apply_headline_policy(tmp_path / "out.csv", tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "out.csv").read_bytes()
    assert again["headline_policy"]["teacher_overruled"] == 0
