"""The event layer: learned biases over the event tags, applied to a model's probabilities
(core.adapters.event_layer), fitted and decided by model/event_layer.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.adapters.event_layer import LAYER_FILE, EventLayer
from core.adapters.onnx_classifier import OnnxClassifier
from core.errors import ModelNotFoundError
from core.names import LABELS, RELEASE_MODEL_DIR
from model.event_layer import decide, fit
from model.export import write_model_version

BANKRUPT = "Acme Corp files for Chapter 11 bankruptcy protection"
PLAIN = "Acme Corp opens a new office in Helsinki"


def test_untagged_rows_keep_their_probabilities_exactly() -> None:
    layer = EventLayer({"bankruptcy": (3.0, 0.0, -1.0)})
    probs = np.array([[0.2, 0.7, 0.1], [0.2, 0.7, 0.1]])
    out = layer.adjust([PLAIN, BANKRUPT], probs)
    assert out[0].tobytes() == probs[0].tobytes()
    assert out[1].argmax() == LABELS.index("negative")
    assert out[1].sum() == pytest.approx(1.0)
    assert probs[1].tolist() == [0.2, 0.7, 0.1]  # the input is not changed in place


def test_fit_learns_a_kinds_direction_and_the_penalty_holds_it_back() -> None:
    texts = [f"Company {i} files for bankruptcy" for i in range(40)] + [PLAIN] * 10
    labels = ["negative"] * 40 + ["neutral"] * 10
    probs = np.tile([0.05, 0.9, 0.05], (50, 1))
    tags = [["bankruptcy"]] * 40 + [[]] * 10
    free = fit(probs, labels, tags, l2=0.01)
    b = np.array(free.biases["bankruptcy"])
    assert b[LABELS.index("negative")] > b[LABELS.index("neutral")] + 2
    assert set(free.biases) == {"bankruptcy"}
    held = np.array(fit(probs, labels, tags, l2=1000.0).biases["bankruptcy"])
    assert np.abs(held).max() < np.abs(b).max() / 5
    fixed = free.adjust(texts[:1], probs[:1])
    assert LABELS[int(fixed[0].argmax())] == "negative"


def test_the_rule() -> None:
    before = {"val_phrasebank_accuracy": 0.95, "val_headlines_weighted_f1": 0.87,
              "events_validation": 0.6}
    assert decide(before, {**before, "events_validation": 0.9})[0]
    assert decide(before, {**before, "events_validation": 0.9,
                           "val_phrasebank_accuracy": 0.947})[0]
    assert not decide(before, {**before, "events_validation": 0.9,
                               "val_phrasebank_accuracy": 0.946})[0]
    assert not decide(before, {**before, "events_validation": 0.9,
                               "val_headlines_weighted_f1": 0.864})[0]
    assert not decide(before, before)[0]


def test_a_broken_layer_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / LAYER_FILE).write_text(json.dumps({"labels": ["a", "b", "c"], "biases": {}}))
    with pytest.raises(ModelNotFoundError, match="labels"):
        EventLayer.load(tmp_path)
    (tmp_path / LAYER_FILE).write_text(json.dumps(
        {"labels": list(LABELS), "biases": {"moon_landing": [1, 0, 0]}}))
    with pytest.raises(ModelNotFoundError, match="moon_landing"):
        EventLayer.load(tmp_path)
    (tmp_path / LAYER_FILE).write_text("{not json")
    with pytest.raises(ModelNotFoundError, match="not an event layer"):
        EventLayer.load(tmp_path)
    assert EventLayer.load(tmp_path / "nowhere") is None


def test_the_layer_serves_and_is_part_of_the_model_version(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(RELEASE_MODEL_DIR, folder)
    (folder / LAYER_FILE).unlink(missing_ok=True)
    without_version = write_model_version(folder)
    without = OnnxClassifier(folder)
    EventLayer({"bankruptcy": (-8.0, 8.0, 0.0)}).save(folder)  # push to neutral, hard
    version = write_model_version(folder)
    assert version != without_version
    served = OnnxClassifier(folder)
    assert served.model_version == version
    raw = OnnxClassifier(folder, event_layer=False)
    a, b = served.classify([PLAIN, BANKRUPT]), without.classify([PLAIN, BANKRUPT])
    assert a[0].probabilities == b[0].probabilities
    assert a[1].label.value == "neutral"
    assert raw.classify([BANKRUPT])[0].probabilities == b[1].probabilities
    # The targeted path's headline prediction is the same answer.
    (head, _), = served.classify_targets([(BANKRUPT, [(0, 9)])])
    assert head.probabilities == a[1].probabilities


def test_the_release_version_covers_its_layer() -> None:
    """The committed release's model_version is the hash of what serves, layer included."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "release"
        shutil.copytree(RELEASE_MODEL_DIR, copy)
        assert write_model_version(copy) == (
            RELEASE_MODEL_DIR / "model_version").read_text().strip()


def test_a_lone_company_takes_the_event_layer_too(tmp_path: Path) -> None:
    """The taxonomy's polarity is the subject's: a text naming one company moves that
    company's sentiment too; with two companies the entity head alone decides."""
    folder = tmp_path / "model"
    shutil.copytree(RELEASE_MODEL_DIR, folder)
    EventLayer({"bankruptcy": (9.0, -9.0, -9.0)}).save(folder)
    served = OnnxClassifier(folder)
    raw = OnnxClassifier(folder, event_layer=False)
    (_, (alone,)), = served.classify_targets([(BANKRUPT, [(0, 9)])])
    assert alone.label.value == "negative"
    two = "Acme Corp files for bankruptcy as Nokia wins its contract"
    spans = [(0, 9), (two.index("Nokia"), two.index("Nokia") + 5)]
    (_, pair), = served.classify_targets([(two, spans)])
    (_, pair_raw), = raw.classify_targets([(two, spans)])
    assert [p.probabilities for p in pair] == [p.probabilities for p in pair_raw]


def test_every_file_the_version_covers_travels_with_the_model(tmp_path: Path) -> None:
    """A Lambda bundle and a promotion copy SERVING_FILES and OPTIONAL_SERVING_FILES: the
    content hash covers nothing else, so a bundle never claims a version it does not serve."""
    from core.names import OPTIONAL_SERVING_FILES, SERVING_FILES

    folder = tmp_path / "model"
    shutil.copytree(RELEASE_MODEL_DIR, folder)
    version = write_model_version(folder)
    (folder / "metrics.json").write_text("{}")  # not a serving file: not in the hash
    assert write_model_version(folder) == version
    assert LAYER_FILE in OPTIONAL_SERVING_FILES
    for name in (*SERVING_FILES, *OPTIONAL_SERVING_FILES):
        if name == "model_version":
            continue
        if not (folder / name).exists():
            continue
        original = (folder / name).read_bytes()
        (folder / name).write_bytes(original + b" ")
        assert write_model_version(folder) != version, name
        (folder / name).write_bytes(original)
