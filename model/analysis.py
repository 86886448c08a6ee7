"""Where the errors are: accuracy by annotator agreement, by class and by length.

The canonical test is 75Agree sentences; those also in Sentences_AllAgree were labelled
unanimously, the rest by 75-99% of the annotators. Splitting the errors along that line
(and by true class, by sentence length, by confusion pair) shows whether a model loses its
points on sentences people also disagree on, or on clear ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.names import MODEL_FILE
from model.data import FPB_DIR, FPB_TEST, load_labelled_csv, load_phrasebank_txt

LENGTH_BUCKETS = ((0, 12, "1-12 words"), (13, 25, "13-25 words"), (26, 40, "26-40 words"),
                  (41, 10_000, "41+ words"))


def _norm(text: str) -> str:
    return " ".join(text.split())


def agreement_stratum(texts: Sequence[str]) -> list[str]:
    unanimous = {_norm(t) for t in load_phrasebank_txt(FPB_DIR / "Sentences_AllAgree.txt")[0]}
    return ["100%" if _norm(t) in unanimous else "75-99%" for t in texts]


AGREEMENT_WEIGHTS = (("Sentences_AllAgree.txt", 1.0), ("Sentences_75Agree.txt", 0.75),
                     ("Sentences_66Agree.txt", 0.66), ("Sentences_50Agree.txt", 0.5))
"""A PhraseBank sentence's weight: the lower agreement bound of the first file (most to least
agreed) that holds it."""
AGREEMENT_SOURCES = frozenset({"phrasebank_train", "phrasebank_extra"})


def agreement_weights(texts: Sequence[str], sources: Sequence[str],
                      fpb_dir: Path = FPB_DIR) -> list[float]:
    """One loss weight per row: a PhraseBank row (source phrasebank_train or phrasebank_extra)
    counts as much as its annotators agreed (all: 1.0, 75-99%: 0.75, 66-74%: 0.66, 50-65%:
    0.5); every other row (a headline's single label, a teacher-labelled variant, a synthetic
    headline) 1.0. A PhraseBank row found in none of the files is an error, not a guess."""
    first: dict[str, float] = {}
    for name, weight in AGREEMENT_WEIGHTS:
        for text in load_phrasebank_txt(fpb_dir / name)[0]:
            first.setdefault(_norm(text), weight)
    weights, missing = [], []
    for text, source in zip(texts, sources, strict=True):
        if source not in AGREEMENT_SOURCES:
            weights.append(1.0)
        elif (w := first.get(_norm(text))) is not None:
            weights.append(w)
        else:
            missing.append(text)
    if missing:
        raise ValueError(f"{len(missing)} PhraseBank row(s) are in no Sentences_*Agree file "
                         f"(first: {missing[0][:80]!r}); their agreement is unknown")
    return weights


def _length_bucket(text: str) -> str:
    n = len(text.split())
    return next(name for lo, hi, name in LENGTH_BUCKETS if lo <= n <= hi)


def _table(groups: Sequence[str], correct: Sequence[bool]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for g, ok in zip(groups, correct, strict=True):
        rec = out.setdefault(g, {"n": 0, "errors": 0})
        rec["n"] += 1
        rec["errors"] += int(not ok)
    total_errors = max(1, sum(r["errors"] for r in out.values()))
    for rec in out.values():
        rec["accuracy"] = round(1 - rec["errors"] / rec["n"], 4)
        rec["share_of_errors"] = round(rec["errors"] / total_errors, 4)
    return dict(sorted(out.items()))


def error_tables(texts: Sequence[str], gold: Sequence[str], pred: Sequence[str], *,
                 strata: bool = True) -> dict[str, Any]:
    correct = [g == p for g, p in zip(gold, pred, strict=True)]
    result: dict[str, Any] = {
        "n": len(texts), "errors": correct.count(False),
        "accuracy": round(correct.count(True) / max(1, len(texts)), 4),
        "by_class": _table(gold, correct),
        "by_length": _table([_length_bucket(t) for t in texts], correct),
        "confusions": {f"{g} -> {p}": n for (g, p), n in Counter(
            (g, p) for g, p in zip(gold, pred, strict=True) if g != p).most_common()},
    }
    if strata:
        result["by_agreement"] = _table(agreement_stratum(texts), correct)
    return result


def analyse(model_dir: Path, *, model_file: str = MODEL_FILE,
            test_csv: Path = FPB_TEST, split_seed: int = 42) -> dict[str, Any]:
    """Error tables on the canonical test and on the PhraseBank validation split."""
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.data import SplitConfig, load_training_data

    clf = OnnxClassifier(model_dir, model_file=model_file)

    def labels(texts: list[str]) -> list[str]:
        return [p.label.value for p in clf.classify(texts)]

    te_x, te_y = load_labelled_csv(test_csv)
    val_x, val_y = load_training_data(SplitConfig(split_seed=split_seed,
                                                  headlines_csv=None))["val_phrasebank"]
    return {"model_version": clf.model_version, "model_file": model_file,
            "test": error_tables(te_x, te_y, labels(te_x)),
            "validation": error_tables(val_x, val_y, labels(val_x))}
