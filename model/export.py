"""Export a fine-tuned model folder: ONNX fp32, int8 dynamic quantization, labels, version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.names import LABELS

ONNX_FP32 = "model.onnx"
ONNX_INT8 = "model.int8.onnx"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model: Any, out_dir: Path, *, opset: int = 17) -> Path:
    """Trace a Hugging Face sequence classifier to ONNX with dynamic batch and length."""
    import warnings

    import torch

    model = model.eval()
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 2023, 102, 0, 0, 0, 0, 0]])
    ids = ids.clamp(max=model.config.vocab_size - 1)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes["logits"] = {0: "batch"}
    path = out_dir / ONNX_FP32
    # The TorchScript exporter is chosen on purpose: it needs no onnxscript and its graphs
    # quantize cleanly; the warnings it raises about itself are noise here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask, types), str(path), input_names=list(INPUT_NAMES),
                          output_names=["logits"], dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
    return path


def quantize_int8(out_dir: Path, *, embeddings: bool = True) -> Path:
    """Dynamic int8 quantization of the MatMul weights (activations stay fp32); with
    `embeddings`, the embedding lookups (Gather on the word, position and type tables) are
    stored as 8-bit too, which is most of the file: 30,522 x 384 floats for MiniLM."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = out_dir / ONNX_INT8
    ops = ["MatMul", "Gemm", *(["Gather"] if embeddings else [])]
    # onnxruntime logs (on the root logger) a suggestion to pre-process on every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(str(out_dir / ONNX_FP32), str(dst), weight_type=QuantType.QInt8,
                         op_types_to_quantize=ops)
    finally:
        root.setLevel(level)
    return dst


def write_labels(out_dir: Path, *, id2label: dict[int, str], max_length: int,
                 temperature: float = 1.0, base_model: str = "") -> dict:
    labels = [id2label[i] for i in range(len(id2label))]
    assert sorted(labels) == sorted(LABELS), labels
    meta = {"labels": labels, "max_length": max_length, "temperature": temperature,
            "base_model": base_model}
    (out_dir / "labels.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def write_model_version(out_dir: Path) -> str:
    """Content hash of what serves: the int8 graph, the tokenizer and labels.json."""
    h = hashlib.sha256()
    for name in (ONNX_INT8, "tokenizer.json", "labels.json"):
        h.update(name.encode())
        with (out_dir / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    version = h.hexdigest()[:16]
    (out_dir / "model_version").write_text(version + "\n")
    return version


SAGEMAKER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                   "special_tokens_map.json", "vocab.txt", "labels.json", "model_version")


def export_sagemaker(model_dir: Path, out_dir: Path) -> Path:
    """model.tar.gz in the Hugging Face inference toolkit layout (weights + code/inference.py)."""
    import tarfile

    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [n for n in ("config.json", "model.safetensors", "labels.json")
               if not (model_dir / n).exists()]
    if missing:
        from core.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{model_dir} lacks {', '.join(missing)}: run `newsig model "
                                 "train` first")
    inference = Path(__file__).resolve().parent / "sagemaker" / "inference.py"
    target = out_dir / "model.tar.gz"
    tmp = target.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name in SAGEMAKER_FILES:
            if (model_dir / name).exists():
                tar.add(model_dir / name, arcname=name)
        tar.add(inference, arcname="code/inference.py")
    tmp.replace(target)
    return target
