"""Training data as Hugging Face `datasets`: every source loads into a `Dataset` whose `label`
is a `ClassLabel` in the one label order (core.names.LABELS); splits and folds are selections
of it; tokenization is a batched `map`.

The rows of each split are the ones the release was trained and validated on (a test pins
their fingerprints, recorded before this module existed): the validation carve-out keeps its
seeded stratified draw and the folds their near-duplicate grouping, applied with
`Dataset.select`. Serving never imports this module (nor `datasets`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.names import LABELS
from model.data import (
    FPB_TEST,
    FPB_TRAIN,
    SOFT_LABELS,
    TWITTER_LABELS,
    TWITTER_TRAIN,
    grouped_folds,
    load_labelled_csv,
    stratified_split,
)

if TYPE_CHECKING:
    from datasets import ClassLabel, Dataset


def label_feature() -> ClassLabel:
    from datasets import ClassLabel

    return ClassLabel(names=list(LABELS))


def labelled(texts: Sequence[str], labels: Sequence[str], **columns: Sequence[Any]) -> Dataset:
    """A Dataset of texts and label names (stored as ClassLabel ids), plus extra columns."""
    from datasets import Dataset, Features, Value

    features = Features({"text": Value("string"), "label": label_feature(),
                         **{k: Value("float64" if isinstance(v[0], float) else "string")
                            for k, v in columns.items() if len(v)}})
    return Dataset.from_dict({"text": list(texts), "label": list(labels),
                              **{k: list(v) for k, v in columns.items()}}, features=features)


def phrasebank(path: Path = FPB_TRAIN) -> Dataset:
    """A PhraseBank split CSV (`text,label`); a bad row is an error naming file and line."""
    return labelled(*load_labelled_csv(path))


def phrasebank_test() -> Dataset:
    return phrasebank(FPB_TEST)


def headlines(path: Path = TWITTER_TRAIN) -> Dataset:
    """The finance headlines (0 bearish, 1 bullish, 2 neutral) in the one label order."""
    return labelled(*load_labelled_csv(path, numeric=TWITTER_LABELS))


def soft_labels(path: Path = SOFT_LABELS) -> Dataset:
    """The distillation transfer set: text, gold label where known (else the teacher's top
    label), the teacher's three probabilities and each row's source."""
    from model.distill import read_soft_labels

    soft = read_soft_labels(path)
    probs = [[float(v) for v in soft.probs[:, j]] for j in range(len(LABELS))]
    top = [LABELS[int(row.argmax())] for row in soft.probs]
    return labelled(soft.texts, [g or t for g, t in zip(soft.gold, top, strict=True)],
                    p_negative=probs[0], p_neutral=probs[1], p_positive=probs[2],
                    source=list(soft.sources))


def finentity(path: Path) -> Dataset:
    """FinEntity passages flattened to one row per annotated entity: the passage, the entity
    as written, its character span and the sentiment toward it."""
    from datasets import Dataset, Features, Value

    rows: dict[str, list[Any]] = {"text": [], "target": [], "start": [], "end": [],
                                  "label": [], "passage": []}
    for n, passage in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        for a in passage["annotations"]:
            rows["text"].append(passage["content"])
            rows["target"].append(a["value"])
            rows["start"].append(int(a["start"]))
            rows["end"].append(int(a["end"]))
            rows["label"].append(str(a["label"]).lower())
            rows["passage"].append(n)
    features = Features({"text": Value("string"), "target": Value("string"),
                         "start": Value("int32"), "end": Value("int32"),
                         "label": label_feature(), "passage": Value("int32")})
    return Dataset.from_dict(rows, features=features)


def names(ds: Dataset) -> list[str]:
    """The label column as names."""
    feature = ds.features["label"]
    return [feature.int2str(i) for i in ds["label"]]


def as_lists(ds: Dataset) -> tuple[list[str], list[str]]:
    return list(ds["text"]), names(ds)


def split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """(rest, held_out): `fraction` of each label held out, drawn with `seed` (the draw the
    release's validation split was made with, model.data.stratified_split)."""
    index = list(range(len(ds)))
    (rest, _), (held, _) = stratified_split(index, names(ds), fraction, seed)  # type: ignore[arg-type]
    return ds.select(rest), ds.select(held)


def folds(ds: Dataset, k: int, seed: int = 0) -> list[Dataset]:
    """k folds; near-duplicate sentences stay in one fold (model.data.grouped_folds)."""
    fold_of = grouped_folds(ds["text"], k, seed)
    return [ds.select([i for i, f in enumerate(fold_of) if f == n]) for n in range(k)]


def tokenize(texts: Sequence[str], tokenizer: Any, max_length: int) -> dict[str, list[Any]]:
    """Token ids of each text, by a batched `map` (truncated, not padded: batches pad)."""
    from datasets import Dataset

    ds = Dataset.from_dict({"text": list(texts)})
    mapped = ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                    batched=True, remove_columns=["text"], load_from_cache_file=False,
                    keep_in_memory=True)
    return {k: mapped[k] for k in mapped.column_names}
