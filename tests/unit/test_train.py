"""`newsig model train` end to end on a tiny base model (seconds, not a real training)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from tests.support.tiny_model import TOY

pytest.importorskip("torch", reason="training needs the train extra")


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    import csv

    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def test_train_writes_a_complete_calibrated_model_folder(tiny_model_dir: Path,
                                                         tmp_path: Path) -> None:
    from model.train import TrainConfig, train

    train_csv = write_csv(tmp_path / "train.csv", [*TOY, *TOY, *TOY])
    test_csv = write_csv(tmp_path / "test.csv", TOY)
    out = tmp_path / "model"
    metrics = train(TrainConfig(base_model=str(tiny_model_dir), train_csv=train_csv,
                                test_csv=test_csv, out_dir=out, epochs=2, batch_size=8,
                                max_length=32, val_fraction=0.2, learning_rate=1e-3,
                                progress=False))
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
    assert saved["validation_size"] == 9 and saved["train_size"] == 36
    assert len(saved["history"]) == 2 and "val_accuracy" in saved["history"][0]
    clf = OnnxClassifier(out)
    assert clf.temperature == labels["temperature"]
    assert clf.model_version == saved["model_version"]
