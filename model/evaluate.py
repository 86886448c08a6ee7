"""Evaluate a model folder's ONNX model on a labelled CSV."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.adapters.onnx_classifier import OnnxClassifier
from core.names import LABELS, LABELS_FILE, MODEL_FILE, TOKENIZER_FILE, VERSION_FILE
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


def evaluate(model_dir: str | Path, csv_path: str | Path, *, model_file: str = MODEL_FILE,
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


def _int8_variant(model_dir: Path, folder: Path, **options: bool) -> Path:
    """The folder's fp32 graph quantized into `folder` with the given export options."""
    import shutil

    from model.export import ONNX_FP32, quantize_int8

    folder.mkdir()
    # config.json: the graph fusion reads the heads and width from it.
    for name in (ONNX_FP32, "config.json", TOKENIZER_FILE, LABELS_FILE, VERSION_FILE):
        shutil.copy2(model_dir / name, folder / name)
    quantize_int8(folder, **options)
    return folder


def embedding_cost_over_seeds(seeds_dir: Path) -> dict:
    """What 8-bit embedding tables cost (accuracy points on the canonical test, int8 with
    fp32 tables minus int8 with 8-bit tables) on every `seed-*` model of a seeds protocol:
    one model's figure moves by the few sentences quantization noise flips. A seed still
    training (no model_version yet: it is written once the export is done) is listed, not
    measured."""
    import statistics
    import tempfile

    from model.data import FPB_TEST
    from model.export import ONNX_INT8

    per_seed: dict[str, float] = {}
    folders = sorted(seeds_dir.glob("seed-*"))
    unfinished = [d.name for d in folders if not (d / VERSION_FILE).exists()]
    for model_dir in folders:
        if model_dir.name in unfinished:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            acc = {emb: evaluate(_int8_variant(model_dir, Path(tmp) / str(emb),
                                               embeddings=emb),
                                 FPB_TEST, model_file=ONNX_INT8, progress=False)["accuracy"]
                   for emb in (True, False)}
        per_seed[model_dir.name] = round(100 * (acc[False] - acc[True]), 2)
    if not per_seed:
        raise ValueError(f"{seeds_dir} holds no seed-* model folders")
    return {"seeds_dir": str(seeds_dir), "per_seed": per_seed,
            "mean_points": round(statistics.fmean(per_seed.values()), 2),
            **({"unfinished": unfinished} if unfinished else {})}


def compare_quantization(model_dir: str | Path, *, progress: bool = False,
                         seeds_dir: Path | None = None) -> dict:
    """The served int8 graph against fp32 and against int8 with fp32 embedding tables, on
    the canonical test and the headline holdout: what each export choice costs, measured."""
    import tempfile

    from core.adapters.onnx_classifier import read_model_version
    from model.data import FPB_TEST
    from model.export import ONNX_FP32, ONNX_INT8

    model_dir = Path(model_dir)
    holdout = model_dir / "validation_headlines.csv"
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        variants = [("fp32", model_dir, ONNX_FP32)]
        for label, options in (
                ("int8, 8-bit embeddings", {}),
                ("int8, fp32 embeddings", {"embeddings": False}),
                ("int8, unfused, per-tensor (the export before)",
                 {"fused": False, "per_channel": False})):
            folder = _int8_variant(model_dir, Path(tmp_name) / f"v{len(variants)}",
                                   **options)
            variants.append((label, folder, ONNX_INT8))
        for label, folder, graph in variants:
            test = evaluate(folder, FPB_TEST, model_file=graph, progress=progress)
            head = (evaluate(folder, holdout, model_file=graph, progress=progress)
                    if holdout.exists() else {})
            rows.append({"graph": label,
                         "size_mb": round((folder / graph).stat().st_size / 1e6, 1),
                         "accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
                         "headlines_weighted_f1": head.get("weighted_f1")})
    by = {r["graph"]: r for r in rows}
    emb8, emb32 = by["int8, 8-bit embeddings"], by["int8, fp32 embeddings"]
    cost = 100 * (emb32["accuracy"] - emb8["accuracy"])
    note = (f"Quantizing the embedding tables to 8 bits costs {cost:+.2f} accuracy points on "
            "the canonical test against int8 with fp32 embeddings (the limit set was 0.2) and "
            f"shrinks the file from {emb32['size_mb']} MB to {emb8['size_mb']} MB.")
    before = by["int8, unfused, per-tensor (the export before)"]
    gain = 100 * (emb8["accuracy"] - before["accuracy"])
    note += (f" The fused, per-channel export scores {gain:+.2f} points against the unfused, "
             f"per-tensor one, and {100 * (emb8['accuracy'] - by['fp32']['accuracy']):+.2f} "
             "against fp32.")
    result = {"model_version": read_model_version(model_dir), "rows": rows,
              "embedding_cost_points": round(cost, 2),
              "export_gain_points": round(gain, 2), "note": note}
    if seeds_dir is not None:
        over = embedding_cost_over_seeds(seeds_dir)
        per = ", ".join(f"{v:+.2f}" for v in over["per_seed"].values())
        result["embedding_cost_over_seeds"] = over
        result["note"] = note + (
            f" Over the {len(over['per_seed'])} seeds of the recipe the 8-bit tables cost "
            f"{over['mean_points']:+.2f} points on average (per seed {per}): one model's "
            "figure is a few sentences that quantization noise flips either way.")
    return result
