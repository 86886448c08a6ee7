"""Training data through `datasets` (model/datasets.py): ClassLabel features in the one label
order, and the very rows the release was trained and validated on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

pytest.importorskip("datasets", reason="the train extra")

from core.names import LABELS
from model import datasets as hf
from model.data import DATA_DIR, SplitConfig, load_training_data

#: Fingerprints of each split, recorded with the code before `datasets` (commit 1c85ae8:
#: the csv module and a seeded random draw): sha256 of json([texts, labels]), and the size.
BEFORE = {
    (42, True): {"train": ("3a1c3d7b812c8264", 10594),
                 "train_phrasebank": ("dc573996ad258e21", 2482),
                 "val_phrasebank": ("96c9cacc7ae406e7", 276),
                 "val_headlines": ("f269c29eaafbdc82", 1431)},
    (7, False): {"train": ("83a443876fdc41e5", 2482),
                 "train_phrasebank": ("83a443876fdc41e5", 2482),
                 "val_phrasebank": ("396e2d0f2e83c6f1", 276)},
}


def fingerprint(pair: tuple[list[str], list[str]]) -> tuple[str, int]:
    return hashlib.sha256(json.dumps([pair[0], pair[1]]).encode()).hexdigest()[:16], len(pair[0])


@pytest.mark.parametrize(("seed", "with_headlines"), list(BEFORE))
def test_the_splits_are_the_rows_they_were(seed: int, with_headlines: bool) -> None:
    cfg = SplitConfig(split_seed=seed, **({} if with_headlines else {"headlines_csv": None}))
    data = load_training_data(cfg)
    assert {k: fingerprint(v) for k, v in data.items()} == BEFORE[(seed, with_headlines)]


def test_every_source_has_classlabel_features_in_one_order() -> None:
    for ds in (hf.phrasebank(), hf.phrasebank_test(), hf.headlines(), hf.soft_labels(),
               hf.finentity(DATA_DIR / "finentity" / "finentity_train.json")):
        assert ds.features["label"].names == list(LABELS)
    soft = hf.soft_labels()
    assert {"p_negative", "p_neutral", "p_positive", "source"} <= set(soft.column_names)
    row = soft[0]
    assert abs(row["p_negative"] + row["p_neutral"] + row["p_positive"] - 1) < 1e-4
    fin = hf.finentity(DATA_DIR / "finentity" / "finentity_train.json")
    assert len(fin) > 1400 and len(set(fin["passage"])) == 702
    first = fin[0]
    assert first["text"][first["start"]:first["end"]] == first["target"]


def test_folds_keep_near_duplicates_together_and_cover_everything() -> None:
    ds = hf.phrasebank()
    parts = hf.folds(ds, 3, seed=42)
    assert sum(len(p) for p in parts) == len(ds)
    from model.data import near_duplicate_key
    keys = [{near_duplicate_key(t) for t in p["text"]} for p in parts]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])


def test_tokenization_is_a_map_with_the_tokenizers_own_ids(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir / "hf") if (
        tiny_model_dir / "hf").exists() else str(tiny_model_dir))
    texts = ["Profit rose to a record", "Shares fell", "x " * 300]
    mapped = hf.tokenize(texts, tok, 32)
    direct = tok(texts, truncation=True, max_length=32)
    assert mapped["input_ids"] == direct["input_ids"]
    assert max(len(ids) for ids in mapped["input_ids"]) == 32
