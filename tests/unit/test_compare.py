"""Paired comparison of two models: discordant counts and the exact McNemar test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.compare import compare_cv, mcnemar_exact, paired_comparison


@pytest.mark.parametrize(("b", "c", "p"), [
    (0, 0, 1.0), (3, 3, 1.0), (0, 5, 2 / 32), (5, 0, 2 / 32), (1, 9, 2 * 11 / 1024),
    (10, 20, 0.09873714)])
def test_mcnemar_exact(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-6)


def test_paired_comparison_counts_only_the_sentences_they_disagree_on() -> None:
    gold = ["positive", "neutral", "negative", "neutral", "positive", "negative"]
    a = ["positive", "neutral", "neutral", "positive", "positive", "negative"]
    b = ["positive", "negative", "negative", "positive", "negative", "negative"]
    r = paired_comparison(gold, a, b)
    assert r == {"n": 6, "a_accuracy": round(4 / 6, 4), "b_accuracy": 0.5,
                 "a_right_b_wrong": 2, "b_right_a_wrong": 1,
                 "mcnemar_p": 1.0}
    swapped = paired_comparison(gold, b, a)
    assert (swapped["a_right_b_wrong"], swapped["b_right_a_wrong"]) == (1, 2)
    with pytest.raises(ValueError, match="same length"):
        paired_comparison(gold, a, b[:-1])


def _cv_folder(root: Path, model_dir: Path, tests: list[list[tuple[str, str]]]) -> Path:
    from tests.support.builders import write_csv

    for k, rows in enumerate(tests):
        fold = root / f"fold-{k}"
        shutil.copytree(model_dir, fold / "model")
        (fold / "model" / "metrics.json").write_text(json.dumps({"fold": k}))
        write_csv(fold / "test.csv", rows)
    return root


def test_compare_cv_pools_folds_and_refuses_unpaired_folders(tiny_model_dir: Path,
                                                             tmp_path: Path) -> None:
    from tests.support.tiny_model import TOY

    folds = [TOY[:9], TOY[9:]]
    a = _cv_folder(tmp_path / "a", tiny_model_dir, folds)
    b = _cv_folder(tmp_path / "b", tiny_model_dir, folds)
    # B's second fold reads negative as positive and back (its labels.json swapped): the
    # four negative sentences of that fold are right for A only.
    labels_path = b / "fold-1" / "model" / "labels.json"
    meta = json.loads(labels_path.read_text())
    meta["labels"] = ["positive", "neutral", "negative"]
    labels_path.write_text(json.dumps(meta))
    result = compare_cv(a, b)
    assert [f["fold"] for f in result["folds"]] == ["fold-0", "fold-1"]
    assert result["folds"][0]["a_right_b_wrong"] == result["folds"][0]["b_right_a_wrong"] == 0
    assert result["pooled"] == {"n": len(TOY), "a_accuracy": 1.0,
                                "b_accuracy": round((len(TOY) - 4) / len(TOY), 4),
                                "a_right_b_wrong": 4, "b_right_a_wrong": 0,
                                "mcnemar_p": 0.125}
    reverse = compare_cv(b, a)["pooled"]
    assert (reverse["a_right_b_wrong"], reverse["b_right_a_wrong"]) == (0, 4)

    from tests.support.builders import write_csv

    write_csv(b / "fold-1" / "test.csv", [(t, "neutral") for t, _ in TOY[9:]])
    with pytest.raises(ValueError, match="different sentences"):
        compare_cv(a, b)
    shutil.rmtree(b / "fold-1")
    with pytest.raises(ValueError, match="not finished"):
        compare_cv(a, b)
