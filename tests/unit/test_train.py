"""`newsig model train` end to end on a tiny base model (seconds, not a real training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from tests.support.builders import write_csv
from tests.support.tiny_model import TOY

pytest.importorskip("torch", reason="training needs the train extra")


def test_train_writes_a_complete_calibrated_model_folder(tiny_model_dir: Path,
                                                         tmp_path: Path) -> None:
    from model.train import TrainConfig, train

    train_csv = write_csv(tmp_path / "train.csv", [*TOY, *TOY, *TOY])
    test_csv = write_csv(tmp_path / "test.csv", TOY)
    out = tmp_path / "model"
    metrics = train(TrainConfig(recipe="finetune", base_model=str(tiny_model_dir),
                                train_csv=train_csv, test_csv=test_csv, out_dir=out,
                                epochs=2, batch_size=8,
                                max_length=32, val_fraction=0.2, learning_rate=1e-3,
                                headlines_csv=None, progress=False))
    for name in ("model.safetensors", "config.json", "tokenizer.json", "model.onnx",
                 "model.int8.onnx", "labels.json", "metrics.json", "model_version",
                 "reliability.png"):
        assert (out / name).exists(), name
    labels = json.loads((out / "labels.json").read_text())
    assert labels["labels"] == ["negative", "neutral", "positive"]
    assert labels["temperature"] == metrics["calibration"]["temperature"] > 0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["model_version"] == (out / "model_version").read_text().strip()
    assert saved["test"]["n"] == len(TOY) and 0 <= saved["test"]["accuracy"] <= 1
    assert saved["test"]["temperature"] == labels["temperature"]
    assert "ece" in saved["test"] and "ece_uncalibrated" in saved["test"]
    # 20% of each label is held out for validation (at least one).
    per_label = [3 * sum(1 for _, y in TOY if y == label) for label in ("negative", "neutral",
                                                                       "positive")]
    held = sum(max(1, round(n * 0.2)) for n in per_label)
    assert saved["validation_size"] == held and saved["train_size"] == 3 * len(TOY) - held
    assert len(saved["history"]) == 2 and "val_accuracy" in saved["history"][0]
    clf = OnnxClassifier(out)
    assert clf.temperature == labels["temperature"]
    assert clf.model_version == saved["model_version"]


NUMERIC = {"negative": "0", "positive": "1", "neutral": "2"}


def test_train_mixes_in_headlines_and_scores_their_holdout(tiny_model_dir: Path,
                                                           tmp_path: Path) -> None:
    """Twitter-style numeric labels are mapped, 15% of each label is held out, the holdout
    is scored every epoch, selects the epoch with the PhraseBank validation, and is kept."""
    from model.train import TrainConfig, train

    train_csv = write_csv(tmp_path / "train.csv", [*TOY, *TOY])
    headlines = [(f"{t} today", NUMERIC[y]) for t, y in TOY * 4]
    headlines_csv = write_csv(tmp_path / "headlines.csv", headlines)
    out = tmp_path / "model"
    metrics = train(TrainConfig(recipe="finetune", base_model=str(tiny_model_dir),
                                train_csv=train_csv, test_csv=None,
                                headlines_csv=headlines_csv, out_dir=out,
                                epochs=2, batch_size=8, max_length=32, val_fraction=0.2,
                                learning_rate=1e-3, label_smoothing=0.1, layer_decay=0.8,
                                progress=False))
    held = sum(max(1, round(4 * sum(1 for _, y in TOY if y == label) * 0.15))
               for label in ("negative", "neutral", "positive"))  # 15% of each label
    assert metrics["validation_headlines_size"] == held
    assert metrics["train_size"] == 2 * len(TOY) - metrics["validation_size"] + len(
        headlines) - held
    first = metrics["history"][0]
    assert {"val_accuracy", "val_headlines_weighted_f1", "val_score"} <= set(first)
    assert first["val_score"] == pytest.approx(
        (first["val_accuracy"] + first["val_headlines_weighted_f1"]) / 2)
    kept = (out / "validation_headlines.csv").read_text().splitlines()
    assert len(kept) == held + 1 and kept[0] == "text,label"
    assert all(line.rsplit(",", 1)[1] in ("negative", "neutral", "positive")
               for line in kept[1:])
    assert metrics["validation_headlines"]["n"] == held
    assert "test" not in metrics


def test_bucketed_batches_cover_every_index_once_and_pad_less() -> None:
    import random

    from model.loop import bucketed_batches

    rng = random.Random(0)
    lengths = [rng.randint(5, 120) for _ in range(1000)]
    batches = bucketed_batches(lengths, 32, random.Random(1), pool_batches=10)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert all(1 <= len(b) <= 32 for b in batches)

    def padded(bs: list[list[int]]) -> int:
        return sum(len(b) * max(lengths[i] for i in b) for b in bs)

    shuffled = list(range(1000))
    random.Random(1).shuffle(shuffled)
    plain = [shuffled[i:i + 32] for i in range(0, 1000, 32)]  # random batches, as before
    assert padded(batches) < 0.75 * padded(plain)
    again = bucketed_batches(lengths, 32, random.Random(2), pool_batches=10)
    assert again != batches  # a new order each epoch (seeded)


def test_layer_wise_learning_rates(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from model.train import TrainConfig, param_groups

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_model_dir),
                                                               num_labels=3)
    n = model.config.num_hidden_layers
    cfg = TrainConfig(learning_rate=1e-3, layer_decay=0.5, weight_decay=0.01)
    groups = param_groups(model, cfg)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert len(lr_of) == len(named)  # every parameter in exactly one group
    emb = next(p for k, p in named.items() if "word_embeddings" in k)
    top = next(p for k, p in named.items() if f"layer.{n - 1}.attention.self.query.weight" in k)
    head = next(p for k, p in named.items() if k.startswith("classifier.") and "weight" in k)
    bias = next(p for k, p in named.items() if k.endswith("layer.0.output.dense.bias"))
    assert lr_of[id(head)] == pytest.approx(1e-3)
    assert lr_of[id(top)] == pytest.approx(1e-3 * 0.5)
    assert lr_of[id(emb)] == pytest.approx(1e-3 * 0.5 ** (n + 1))
    assert wd_of[id(head)] == 0.01 and wd_of[id(bias)] == 0.0
    flat = param_groups(model, cfg.model_copy(update={"layer_decay": 1.0}))
    assert {g["lr"] for g in flat} == {1e-3}


def test_distillation_reads_soft_labels_and_refuses_validation_leaks(tiny_model_dir: Path,
                                                                     tmp_path: Path) -> None:
    """The default recipe: teacher probabilities from a soft-label file (here the tiny model
    plays the teacher), gold CE where present; validation sentences may not be in the file."""
    from model.data import load_training_data
    from model.distill import (
        TransferSet,
        read_soft_labels,
        teacher_probabilities,
        write_soft_labels,
    )
    from model.train import train
    from tests.support.tiny_model import toy_distill_config

    cfg = toy_distill_config(tiny_model_dir, tmp_path, out_dir=tmp_path / "model", epochs=2)
    tr_x, tr_y = load_training_data(cfg)["train"]
    extra = [f"{t} again" for t, _ in TOY]  # unlabelled transfer sentences
    ts = TransferSet(tr_x + extra, ["phrasebank_train"] * len(tr_x) + ["augmented"] * len(extra),
                     [*tr_y, *[None] * len(extra)])
    probs = teacher_probabilities(tiny_model_dir, ts.texts, progress=False)
    write_soft_labels(cfg.soft_labels, ts, probs, {"split_seed": cfg.split_seed})
    soft = read_soft_labels(cfg.soft_labels)
    assert soft.texts == ts.texts and soft.gold[-1] is None
    assert abs(soft.probs - probs).max() < 1e-6
    metrics = train(cfg)
    assert metrics["recipe"] == "distill" and metrics["train_size"] == len(ts)
    assert metrics["soft_labels"]["rows"] == len(ts)
    assert len(metrics["history"]) == 2 and not (cfg.out_dir / "run" / "checkpoint.pt").exists()
    # A file holding a validation sentence would score the student on what it learned from.
    val_x = load_training_data(cfg)["val_phrasebank"][0]
    leaky = TransferSet([*ts.texts, val_x[0]], [*ts.sources, "phrasebank_train"],
                        [*ts.gold, None])
    write_soft_labels(cfg.soft_labels, leaky, [*probs, probs[0]], {"split_seed": 42})
    with pytest.raises(ValueError, match="validation or test"):
        train(cfg.model_copy(update={"out_dir": tmp_path / "leaky"}))


def test_distillation_loss_is_kl_plus_gold_ce() -> None:
    import torch
    import torch.nn.functional as F

    from model.train import TrainConfig, distillation_loss

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    gold = torch.tensor([0, -1])
    cfg = TrainConfig(kd_temperature=2.0, kd_weight=0.7)
    t = 2.0
    soft = torch.softmax(torch.log(teacher) / t, -1)
    kl = (soft * (soft.log() - F.log_softmax(logits / t, -1))).sum(-1).mean() * t * t
    ce = F.cross_entropy(logits[:1], gold[:1])
    got = distillation_loss(logits, gold, teacher, cfg)
    assert float(got) == pytest.approx(float(0.7 * kl + 0.3 * ce), rel=1e-5)
    # With no teacher (finetune), only gold counts.
    assert float(distillation_loss(logits, gold, None, cfg)) == pytest.approx(float(ce))
