"""Build a tiny BERT sequence classifier and export it exactly like `newsig model train`.

Never downloads anything. The model is fitted on a toy set of sentences, deterministically
(dropout off, fixed seed, torch deterministic algorithms, one thread), exported to ONNX fp32
and int8, and then *checked*: every sentence in `PROBES` must come out of both exported
graphs, through the same `OnnxClassifier` the tests use, with its expected label and a clear
margin. Fitting continues in bounded rounds until that holds; if it never does, building
fails loudly with the sentences that were wrong, instead of letting tests downstream fail
for a reason they do not name. The check's result is written to `toy_check.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.names import LABELS

WORDS = """the a of to and in on for is are was were by with at from as that it its this be has
have had not no up down rose fell profit loss sales revenue shares stock market company
quarter year growth decline increase decrease record strong weak beat miss estimates
guidance cut raise dividend bank oil price prices rate rates inflation jobs report said
will would could may expects expected million billion percent eur usd net operating
nokia apple tesla board meets monday outlook warning lawsuit merger deal acquisition""".split()

#: What the toy model is fitted on.
TOY: list[tuple[str, str]] = [
    ("profit rose to a record", "positive"), ("shares rose on strong growth", "positive"),
    ("company beat estimates and will raise dividend", "positive"),
    ("sales increase strong quarter", "positive"), ("revenue growth beat", "positive"),
    ("shares rose on record profit", "positive"), ("apple profit rose to a record", "positive"),
    ("profit fell to a loss", "negative"), ("shares fell on weak guidance", "negative"),
    ("company will cut dividend after loss", "negative"), ("sales decline miss", "negative"),
    ("profit warning lawsuit", "negative"), ("tesla profit fell to a loss", "negative"),
    ("board meets monday", "neutral"), ("the company said it will report", "neutral"),
    ("the bank is in the market", "neutral"), ("the report was expected on monday", "neutral"),
    ("oil price report", "neutral"),
]

#: Every sentence a test asserts a label for, as the tests send it. The exported models must
#: label each of these as given, or building the tiny model fails.
PROBES: list[tuple[str, str]] = [
    *TOY,
    ("Apple profit rose to a record", "positive"),
    ("Tesla profit fell to a loss", "negative"),
    ("Board meets Monday", "neutral"),
    ("profit rose,\nto a record", "positive"),
    ('board "meets" monday', "neutral"),
    ("  shares rose on record profit ", "positive"),
]

#: The exported models' probability for the expected label must reach this.
MIN_PROBABILITY = 0.8


class TinyModelDidNotLearn(RuntimeError):
    """The toy model could not be fitted to label every probe sentence correctly."""


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import BertWordPieceTokenizer
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,%$'-")
    vocab = specials + chars + [f"##{c}" for c in chars] + WORDS
    word_piece = BertWordPieceTokenizer({t: i for i, t in enumerate(dict.fromkeys(vocab))},
                                        lowercase=True)
    return PreTrainedTokenizerFast(tokenizer_object=word_piece._tokenizer, unk_token="[UNK]",
                                   pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                   mask_token="[MASK]", model_max_length=128)


def check_exported(out: Path) -> tuple[list[dict], float]:
    """Each probe through both exported graphs (int8, which the tests serve, and fp32, which
    matches the PyTorch weights SageMaker serves) as the tests load them: the failures, and
    the lowest probability any probe gets for its expected label."""
    from core.adapters.onnx_classifier import OnnxClassifier

    texts = [t for t, _ in PROBES]
    failures = []
    lowest = 1.0
    for model_file in ("model.int8.onnx", "model.onnx"):
        clf = OnnxClassifier(out, model_file=model_file)
        for (text, want), pred in zip(PROBES, clf.classify(texts), strict=True):
            p = getattr(pred.probabilities, want)
            lowest = min(lowest, p)
            if pred.label.value != want or p < MIN_PROBABILITY:
                failures.append({"graph": model_file, "text": text, "want": want,
                                 "got": pred.label.value, "p_want": round(p, 4)})
    return failures, lowest


def build_tiny_model(out: Path, *, seed: int = 0, hidden: int = 32, layers: int = 2,
                     steps_per_round: int = 100, max_rounds: int = 8) -> Path:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from model.export import export_onnx, quantize_int8, write_labels, write_model_version

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2,
                        max_position_embeddings=128, num_labels=len(LABELS),
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                        classifier_dropout=0.0, id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})
    texts, labels = zip(*TOY, strict=True)
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    target = torch.tensor([LABELS.index(y) for y in labels])

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    history: list[dict] = []
    try:
        torch.manual_seed(seed)
        model = BertForSequenceClassification(config)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        # eval(): no dropout anywhere while fitting (the config turns it off too), so the
        # fit is a pure function of the seed and the toy set.
        model.eval()
        failures: list[dict] = []
        for round_ in range(1, max_rounds + 1):
            for _ in range(steps_per_round):
                loss = model(**enc, labels=target).loss
                loss.backward()
                opt.step()
                opt.zero_grad()
            model.save_pretrained(out)
            tokenizer.save_pretrained(out)
            export_onnx(model, out)
            quantize_int8(out)
            write_labels(out, id2label=dict(enumerate(LABELS)), max_length=64,
                         base_model="tiny-bert")
            write_model_version(out)
            failures, lowest = check_exported(out)
            history.append({"round": round_, "steps": round_ * steps_per_round,
                            "loss": round(loss.item(), 6), "failures": len(failures),
                            "lowest_probability": round(lowest, 4)})
            if not failures:
                break
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)
    report = {"probes": len(PROBES), "min_probability": MIN_PROBABILITY, "history": history,
              "failures": failures}
    (out / "toy_check.json").write_text(json.dumps(report, indent=2) + "\n")
    if failures:
        raise TinyModelDidNotLearn(
            f"the tiny test model still mislabels {len(failures)} of {2 * len(PROBES)} probe "
            f"cases through its int8 and fp32 ONNX graphs after {max_rounds * steps_per_round} "
            f"steps: {failures}")
    return out


def toy_distill_config(model_dir: Path, tmp_path: Path, **options: Any) -> Any:
    """A distill-recipe TrainConfig on the toy sentences (each twice, the second with " too"),
    the tiny model as base, soft labels to be written at tmp_path/soft.csv."""
    from model.train import TrainConfig
    from tests.support.builders import write_csv

    train_csv = write_csv(tmp_path / "train.csv", [*TOY, *((f"{t} too", y) for t, y in TOY)])
    return TrainConfig(**{"base_model": str(model_dir), "train_csv": train_csv,
                          "test_csv": None, "headlines_csv": None, "batch_size": 8,
                          "max_length": 32, "val_fraction": 0.2, "learning_rate": 1e-3,
                          "progress": False, "soft_labels": tmp_path / "soft.csv"} | options)
