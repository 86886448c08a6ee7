"""ONNX classifier on a tiny BERT built in the test session (never downloaded)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.errors import InvalidInputError, ModelNotFoundError
from core.models import Sentiment
from core.ports import Classifier

TEXTS = ["Shares rose on record profit", "profit fell to a loss after weak guidance",
         "Board meets Monday", "sales increase", "loss", "the company said it will report",
         "Nokia shares fell on profit warning and lawsuit", "oil"]


def probs(clf: OnnxClassifier, texts: list[str]) -> np.ndarray:
    return np.array([p.probabilities.as_list() for p in clf.classify(texts)])


def test_is_a_classifier(classifier: OnnxClassifier) -> None:
    assert isinstance(classifier, Classifier)


def test_predictions_are_consistent(classifier: OnnxClassifier, tiny_model_dir: Path) -> None:
    preds = classifier.classify(TEXTS)
    assert len(preds) == len(TEXTS)
    version = (tiny_model_dir / "model_version").read_text().strip()
    for p in preds:
        values = p.probabilities.as_list()
        assert sum(values) == pytest.approx(1.0, abs=1e-6)
        assert p.score == pytest.approx(p.probabilities.positive - p.probabilities.negative)
        assert p.label.value == ("negative", "neutral", "positive")[int(np.argmax(values))]
        assert p.model_version == version


def test_toy_labels_come_through(classifier: OnnxClassifier) -> None:
    labels = [p.label for p in classifier.classify(["shares rose on record profit",
                                                     "profit fell to a loss",
                                                     "board meets monday"])]
    assert labels == [Sentiment.positive, Sentiment.negative, Sentiment.neutral]


@pytest.mark.parametrize("graph", ["model.int8.onnx", "model.onnx"])
def test_a_text_gets_the_same_answer_whatever_it_is_sent_with(
        tiny_model_dir: Path, graph: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bit for bit: alone (the every-core session), among others (rows spread over one
    worker per core), in another order, or with other neighbours. The int8 graph quantizes
    its activations with one scale per call, so a padded batch would not give this."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    clf = OnnxClassifier(tiny_model_dir, model_file=graph)
    assert clf.session_threads == [2, 1]
    alone = np.vstack([probs(clf, [t]) for t in TEXTS])
    together = probs(clf, TEXTS)
    shuffled = probs(clf, TEXTS[::-1])[::-1]
    others = probs(clf, [*TEXTS[:2], "a much longer headline " * 6, *TEXTS[2:]])
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(shuffled, alone)
    np.testing.assert_array_equal(np.delete(others, 2, axis=0), alone)
    # Outputs must depend on the input, or the checks above prove nothing.
    assert np.ptp(together, axis=0).max() > 0.2


def test_a_padded_batch_would_not_be_invariant(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Why rows run alone: the same int8 graph (exported with its attention mask, so it can
    take a padded batch at all) fed a padded batch gives a text other logits than it gets
    alone (a fixture check that the test above can fail)."""
    from model.export import quantize_int8

    shutil.copytree(tiny_model_dir, tmp_path / "m")
    quantize_int8(tmp_path / "m", mask_free=False)
    clf = OnnxClassifier(tmp_path / "m")
    assert "attention_mask" in clf._inputs
    session = clf._sessions[-1]
    ids = clf.encode(TEXTS)
    batch = session.run(["logits"], clf.feed(ids))[0]
    rows = np.vstack([session.run(["logits"], clf.feed([i]))[0] for i in ids])
    assert np.abs(batch - rows).max() > 1e-4


def test_a_mask_free_graph_is_never_fed_a_padded_batch(classifier: OnnxClassifier) -> None:
    assert "attention_mask" not in classifier._inputs  # the export's default graph
    ids = classifier.encode(TEXTS)
    assert len({len(i) for i in ids}) > 1
    with pytest.raises(ValueError, match="no attention mask"):
        classifier.feed(ids)
    classifier.feed(ids[:1])  # one unpadded row: fine


def test_order_is_preserved_under_length_bucketing(classifier: OnnxClassifier) -> None:
    reversed_probs = probs(classifier, TEXTS[::-1])[::-1]
    np.testing.assert_allclose(probs(classifier, TEXTS), reversed_probs, atol=1e-6)


def test_onnx_matches_torch(tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch comes with the train extra")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    with torch.no_grad():
        logits = model(**tok(TEXTS, padding=True, return_tensors="pt")).logits
    expected = torch.softmax(logits, -1).numpy()
    fp32 = OnnxClassifier(tiny_model_dir, model_file="model.onnx")
    np.testing.assert_allclose(probs(fp32, TEXTS), expected, atol=1e-4)
    int8 = OnnxClassifier(tiny_model_dir, model_file="model.int8.onnx")
    assert np.abs(probs(int8, TEXTS) - expected).max() < 0.15


def test_long_text_is_truncated_not_rejected(classifier: OnnxClassifier) -> None:
    (p,) = classifier.classify(["profit rose " * 500])
    assert p.probabilities.as_list()


@pytest.mark.parametrize("bad", [[""], ["ok", "   "]])
def test_empty_text_is_an_input_error(classifier: OnnxClassifier, bad: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        classifier.classify(bad)


def test_a_bare_string_is_rejected(classifier: OnnxClassifier) -> None:
    with pytest.raises(InvalidInputError):
        classifier.classify("profit rose")  # type: ignore[arg-type]


def test_empty_batch(classifier: OnnxClassifier) -> None:
    assert classifier.classify([]) == []


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="newsig model train"):
        OnnxClassifier(tmp_path / "nothing")


def test_label_order_and_temperature_from_labels_json(tiny_model_dir: Path,
                                                      tmp_path: Path) -> None:
    base = probs(OnnxClassifier(tiny_model_dir, model_file="model.onnx"), TEXTS)
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    meta = json.loads((copy / "labels.json").read_text())
    meta["temperature"] = 2.0
    (copy / "labels.json").write_text(json.dumps(meta))
    softer = probs(OnnxClassifier(copy, model_file="model.onnx"), TEXTS)
    assert (softer.max(axis=1) <= base.max(axis=1) + 1e-9).all()
    np.testing.assert_array_equal(softer.argmax(axis=1), base.argmax(axis=1))
    meta["labels"] = ["negative", "neutral", "bogus"]
    (copy / "labels.json").write_text(json.dumps(meta))
    with pytest.raises(ModelNotFoundError, match="labels"):
        OnnxClassifier(copy)
