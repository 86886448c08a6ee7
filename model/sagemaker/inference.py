"""SageMaker entry point for the Hugging Face PyTorch inference container.

Packed as code/inference.py inside model.tar.gz by `newsig model export --sagemaker`. It runs in
AWS's container (torch + transformers), not in this project's environment, so it imports
nothing from news-signals: label order, temperature and max length come from labels.json, and
the JSON it serves is the same as `POST /classify`:

  in:  {"headline": "..."} | {"headlines": [...]} | {"query": {"headline": "..."}} |
       {"inputs": "..." | [...]}
  out: {"predictions": [{"text", "label", "probabilities": {negative, neutral, positive},
                          "score", "model_version"}]}
"""

from __future__ import annotations

import json
import os
from typing import Any

MAX_HEADLINES = 64
MAX_CHARS = 1000


def model_fn(model_dir: str) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with open(os.path.join(model_dir, "labels.json")) as fh:
        meta = json.load(fh)
    version = "unversioned"
    version_path = os.path.join(model_dir, "model_version")
    if os.path.exists(version_path):
        with open(version_path) as fh:
            version = fh.read().strip()
    torch.set_num_threads(max(1, int(os.environ.get("NEWSIG_TORCH_THREADS", "0")) or
                              (os.cpu_count() or 1)))
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    return {"model": model, "tokenizer": AutoTokenizer.from_pretrained(model_dir),
            "labels": meta["labels"], "temperature": float(meta.get("temperature", 1.0)),
            "max_length": int(meta.get("max_length", 128)), "model_version": version,
            "event_layer": load_event_layer(model_dir)}


def load_event_layer(model_dir: str) -> Any:
    """The model's event layer (event_layer.json, biases per event kind in LABELS order) and
    the tagger packed beside this file (code/core/events.py), or None without a layer."""
    path = os.path.join(model_dir, "event_layer.json")
    if not os.path.exists(path):
        return None
    import sys

    with open(path) as fh:
        doc = json.load(fh)
    code = os.path.dirname(os.path.abspath(__file__))
    if code not in sys.path:
        sys.path.insert(0, code)
    from core.events import tag  # the packed copy: the container has no news-signals

    return {"labels": doc["labels"], "biases": doc["biases"], "tag": tag}


def apply_event_layer(layer: Any, text: str, p: dict[str, float]) -> dict[str, float]:
    """p(y) * exp(sum of the biases of the kinds tagged in text), renormalised; unchanged
    when no kind with a bias is tagged (core/adapters/event_layer.py, the same formula)."""
    import math

    kinds = [k for k in layer["tag"](text) if k in layer["biases"]]
    if not kinds:
        return p
    logs = {y: math.log(max(p[y], 1e-12)) + sum(layer["biases"][k][i] for k in kinds)
            for i, y in enumerate(layer["labels"])}
    top = max(logs.values())
    e = {y: math.exp(v - top) for y, v in logs.items()}
    total = sum(e.values())
    return {y: v / total for y, v in e.items()}


def _texts(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    given = [k for k in ("headline", "headlines", "query", "inputs") if body.get(k) is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of 'headline', 'headlines', 'query.headline' or "
                         "'inputs'")
    value = body[given[0]]
    if given[0] == "query":
        if not isinstance(value, dict) or "headline" not in value:
            raise ValueError("'query' must be {\"headline\": \"...\"}")
        value = value["headline"]
    texts = value if isinstance(value, list) else [value]
    if not 1 <= len(texts) <= MAX_HEADLINES:
        raise ValueError(f"between 1 and {MAX_HEADLINES} headlines per request")
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip() or len(t.strip()) > MAX_CHARS:
            raise ValueError(f"headline {i} must be a string of 1-{MAX_CHARS} characters")
        out.append(t.strip())
    return out


def input_fn(input_data: str | bytes, content_type: str) -> list[str]:
    if content_type and "json" not in content_type:
        raise ValueError(f"unsupported content type {content_type!r}: send application/json")
    if isinstance(input_data, bytes | bytearray):
        input_data = input_data.decode("utf-8")
    return _texts(json.loads(input_data))


def predict_fn(data: list[str], model: dict[str, Any]) -> list[dict[str, Any]]:
    import torch

    tok, net = model["tokenizer"], model["model"]
    out: list[dict[str, Any]] = []
    with torch.no_grad():
        enc = tok(data, truncation=True, max_length=model["max_length"], padding=True,
                  return_tensors="pt")
        probs = torch.softmax(net(**enc).logits / model["temperature"], dim=-1).tolist()
    for text, row in zip(data, probs, strict=True):
        p = dict(zip(model["labels"], row, strict=True))
        if model.get("event_layer"):
            p = apply_event_layer(model["event_layer"], text, p)
        label = max(p, key=p.__getitem__)
        out.append({"text": text, "label": label,
                    "probabilities": {k: p[k] for k in ("negative", "neutral", "positive")},
                    "score": p["positive"] - p["negative"],
                    "model_version": model["model_version"]})
    return out


def output_fn(prediction: list[dict[str, Any]], accept: str) -> str:
    if accept and accept not in ("*/*",) and "json" not in accept:
        raise ValueError(f"unsupported accept type {accept!r}: use application/json")
    return json.dumps({"predictions": prediction})
