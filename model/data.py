"""Labelled data: CSV (text,label) files and the Financial PhraseBank text files."""

from __future__ import annotations

import csv
import random
import re
import zlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInputError
from core.names import LABELS

DATA_DIR = Path(__file__).resolve().parent / "data"
REPO_ROOT = DATA_DIR.parent.parent


def repo_relative(value: object) -> object:
    """What a tracked file records for a path: relative to the repository when inside it, so
    metrics and cards never carry the absolute paths of the machine that wrote them."""
    if isinstance(value, dict):
        return {k: repo_relative(v) for k, v in value.items()}
    if isinstance(value, list):
        return [repo_relative(v) for v in value]
    if isinstance(value, (str, Path)) and str(value).startswith(str(REPO_ROOT) + "/"):
        return Path(value).relative_to(REPO_ROOT).as_posix()
    return value
FPB_DIR = DATA_DIR / "financial_phrasebank"
FPB_TRAIN = FPB_DIR / "splits" / "sentences_75agree_train.csv"
FPB_TEST = FPB_DIR / "splits" / "sentences_75agree_test.csv"
TWITTER_TRAIN = DATA_DIR / "twitter_financial_news" / "sent_train.csv"
#: The teacher's probabilities for the student's transfer set (model.distill writes it).
SOFT_LABELS = DATA_DIR / "distill" / "soft_labels.csv"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")

_ALIASES = {"bearish": "negative", "bullish": "positive", "neg": "negative", "pos": "positive",
            "neu": "neutral"}
#: Twitter Financial News numeric labels.
TWITTER_LABELS = {"0": "negative", "1": "positive", "2": "neutral"}


def normalise_label(raw: str, *, numeric: dict[str, str] | None = None) -> str:
    value = raw.strip().lower()
    if numeric and value in numeric:
        return numeric[value]
    value = _ALIASES.get(value, value)
    if value not in LABELS:
        raise ValueError(f"label {raw!r} is not one of {', '.join(LABELS)}")
    return value


def load_labelled_csv(path: str | Path, *, text_column: str = "text", label_column: str = "label",
                      numeric: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """Texts and label names from a CSV; a bad row is reported with file and line."""
    path = Path(path)
    texts: list[str] = []
    labels: list[str] = []
    try:
        fh = path.open(newline="", encoding="utf-8")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{path}: no such file") from exc
    with fh:
        reader = csv.DictReader(fh)
        missing = {text_column, label_column} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            line = reader.line_num
            text = (row.get(text_column) or "").strip()
            if not text:
                raise InvalidInputError(f"{path}:{line}: empty text")
            try:
                labels.append(normalise_label(row.get(label_column) or "", numeric=numeric))
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{line}: {exc}") from exc
            texts.append(text)
    if not texts:
        raise InvalidInputError(f"{path}: no rows")
    return texts, labels


def write_labelled_csv(path: Path, texts: list[str], labels: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, labels, strict=True))
    return path


def load_phrasebank_txt(path: str | Path) -> tuple[list[str], list[str]]:
    """A Sentences_<N>Agree.txt file (Latin-1, `sentence@label` lines)."""
    texts, labels = [], []
    for line in Path(path).read_text(encoding="latin-1").splitlines():
        if "@" not in line:
            continue
        text, _, label = line.rpartition("@")
        texts.append(text.strip())
        labels.append(normalise_label(label))
    return texts, labels


def stratified_split(texts: list[str], labels: list[str], fraction: float, seed: int
                     ) -> tuple[tuple[list[str], list[str]], tuple[list[str], list[str]]]:
    """(rest, held_out): held_out takes `fraction` of each label, chosen with `seed`."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, y in enumerate(labels):
        by_label[y].append(i)
    rng = random.Random(seed)
    held: set[int] = set()
    for idx in by_label.values():
        idx = idx[:]
        rng.shuffle(idx)
        held.update(idx[:max(1, round(len(idx) * fraction))])
    rest = [i for i in range(len(texts)) if i not in held]
    held_sorted = sorted(held)
    return (([texts[i] for i in rest], [labels[i] for i in rest]),
            ([texts[i] for i in held_sorted], [labels[i] for i in held_sorted]))


def near_duplicate_key(text: str) -> str:
    """Sentences equal once numbers are masked ("rose 5.2 %" ~ "rose 7 %") share a key."""
    return " ".join(_NUMBER.sub("#", text.lower()).split())


class SplitConfig(BaseModel):
    """Which sentences train and which validate: shared by the student, the teacher and the
    transfer set, so all three see the same validation split."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    train_csv: Path = FPB_TRAIN
    """text,label CSV: the canonical train part of Sentences_75Agree"""
    headlines_csv: Path | None = TWITTER_TRAIN
    """headlines added to training (0 bearish, 1 bullish, 2 neutral), part held out as
    validation ('none': PhraseBank only)"""
    headlines_val_fraction: float = Field(default=0.15, gt=0.0, lt=0.5)
    """share of each headline label held out as validation (fixed by the data)"""
    val_fraction: float = Field(default=0.1, ge=0.0, lt=0.5)
    """share of each PhraseBank label carved from train as validation"""
    split_seed: int = 42
    """seed of that carve-out: fixed, so every seed (and the teacher) is validated alike"""


def load_training_data(cfg: SplitConfig) -> dict[str, tuple[list[str], list[str]]]:
    """train (PhraseBank train part + headlines), validation per source, never the test.
    Loaded and split as `datasets` (model/datasets.py); returned as (texts, labels)."""
    from datasets import concatenate_datasets

    from model import datasets as hf

    fpb = hf.phrasebank(cfg.train_csv)
    if cfg.val_fraction > 0:
        train, fpb_val = hf.split(fpb, cfg.val_fraction, cfg.split_seed)
    else:
        train, fpb_val = fpb, fpb.select([])
    data = {"train": hf.as_lists(train), "train_phrasebank": hf.as_lists(train),
            "val_phrasebank": hf.as_lists(fpb_val)}
    if cfg.headlines_csv is not None:
        # The headline holdout depends on the data only (fixed seed), so every training
        # seed is scored on the same validation headlines.
        h_train, h_val = hf.split(hf.headlines(cfg.headlines_csv),
                                  cfg.headlines_val_fraction, 0)
        data["train"] = hf.as_lists(concatenate_datasets([train, h_train]))
        data["val_headlines"] = hf.as_lists(h_val)
    return data


def grouped_folds(texts: Sequence[str], folds: int, seed: int = 0) -> list[int]:
    """Fold of each sentence: near-duplicate groups are never split, folds stay balanced.

    Groups are dealt largest first to the currently smallest fold (ties broken by a seeded
    hash), which keeps fold sizes within one group of each other."""
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        groups.setdefault(near_duplicate_key(t), []).append(i)
    order = sorted(groups.items(), key=lambda kv: (-len(kv[1]),
                                                   zlib.crc32(f"{seed}:{kv[0]}".encode())))
    sizes = [0] * folds
    fold_of = [0] * len(texts)
    for _, members in order:
        k = min(range(folds), key=lambda f: (sizes[f], f))
        for i in members:
            fold_of[i] = k
        sizes[k] += len(members)
    return fold_of
