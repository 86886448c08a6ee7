"""Evaluate a model folder's ONNX model on a labelled CSV."""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from core.adapters.onnx_classifier import OnnxClassifier
from model.data import load_labelled_csv
from model.metrics import classification_metrics


def predict_labels(clf: OnnxClassifier, texts: list[str], *, chunk: int = 256,
                   progress: bool = True) -> list[str]:
    out: list[str] = []
    with tqdm(total=len(texts), desc="evaluate", unit="sent", disable=not progress) as bar:
        for i in range(0, len(texts), chunk):
            out.extend(p.label.value for p in clf.classify(texts[i:i + chunk]))
            bar.update(len(texts[i:i + chunk]))
    return out


def evaluate(model_dir: str | Path, csv_path: str | Path, *, model_file: str = "model.int8.onnx",
             text_column: str = "text", label_column: str = "label",
             numeric: dict[str, str] | None = None, progress: bool = True) -> dict:
    texts, labels = load_labelled_csv(csv_path, text_column=text_column,
                                      label_column=label_column, numeric=numeric)
    clf = OnnxClassifier(model_dir, model_file=model_file)
    started = time.perf_counter()
    predicted = predict_labels(clf, texts, progress=progress)
    metrics = classification_metrics(labels, predicted)
    metrics.update({"input": str(csv_path), "model_file": model_file,
                    "model_version": clf.model_version,
                    "seconds": round(time.perf_counter() - started, 3)})
    return metrics
