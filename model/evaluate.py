"""Evaluate a model folder's ONNX model on a labelled CSV."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.adapters.onnx_classifier import OnnxClassifier
from core.names import LABELS
from model.calibration import expected_calibration_error, reliability_plot
from model.data import load_labelled_csv
from model.metrics import classification_metrics


def predict_probs(clf: OnnxClassifier, texts: list[str], *, chunk: int = 256,
                  progress: bool = True) -> np.ndarray:
    """Served probabilities (calibrated), LABELS order."""
    out: list[list[float]] = []
    with tqdm(total=len(texts), desc="evaluate", unit="sent", disable=not progress) as bar:
        for i in range(0, len(texts), chunk):
            out.extend(p.probabilities.as_list() for p in clf.classify(texts[i:i + chunk]))
            bar.update(len(texts[i:i + chunk]))
    return np.array(out)


def evaluate(model_dir: str | Path, csv_path: str | Path, *, model_file: str = "model.int8.onnx",
             text_column: str = "text", label_column: str = "label",
             numeric: dict[str, str] | None = None, progress: bool = True,
             reliability_png: Path | None = None) -> dict:
    texts, labels = load_labelled_csv(csv_path, text_column=text_column,
                                      label_column=label_column, numeric=numeric)
    clf = OnnxClassifier(model_dir, model_file=model_file)
    started = time.perf_counter()
    probs = predict_probs(clf, texts, progress=progress)
    metrics = classification_metrics(labels, [LABELS[i] for i in probs.argmax(axis=1)])
    y = np.array([LABELS.index(v) for v in labels])
    metrics["ece"] = round(expected_calibration_error(probs, y), 4)
    metrics["temperature"] = clf.temperature
    if clf.temperature != 1.0:  # what calibration bought, on this data
        served_t = clf.temperature
        clf.temperature = 1.0
        raw = predict_probs(clf, texts, progress=False)
        clf.temperature = served_t
        metrics["ece_uncalibrated"] = round(expected_calibration_error(raw, y), 4)
        if reliability_png is not None:
            reliability_plot({"uncalibrated": raw, "calibrated (served)": probs}, y,
                             reliability_png, title=f"Reliability: {Path(csv_path).name}")
    metrics.update({"input": str(csv_path), "model_file": model_file,
                    "model_version": clf.model_version,
                    "seconds": round(time.perf_counter() - started, 3)})
    return metrics
