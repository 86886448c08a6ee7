"""The tiny test model is what the suite assumes: it learned its toy set, through int8 ONNX."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from tests.support.tiny_model import (
    MIN_PROBABILITY,
    PROBES,
    TinyModelDidNotLearn,
    build_tiny_model,
)


def test_every_probe_is_labelled_right_by_the_int8_graph(tiny_model_dir: Path) -> None:
    clf = OnnxClassifier(tiny_model_dir)  # the int8 graph, default batch size
    preds = clf.classify([t for t, _ in PROBES])
    got = [(t, p.label.value) for (t, _), p in zip(PROBES, preds, strict=True)]
    assert got == PROBES
    assert min(getattr(p.probabilities, want) for (_, want), p in zip(PROBES, preds,
                                                                        strict=True)) \
        >= MIN_PROBABILITY
    report = json.loads((tiny_model_dir / "toy_check.json").read_text())
    assert report["failures"] == [] and report["probes"] == len(PROBES)


def test_build_is_deterministic(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path / "again")
    assert (again / "model_version").read_text() == \
        (tiny_model_dir / "model_version").read_text()


def test_a_model_that_did_not_learn_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(TinyModelDidNotLearn, match="mislabels"):
        build_tiny_model(tmp_path / "unfit", steps_per_round=1, max_rounds=1)
    report = json.loads((tmp_path / "unfit" / "toy_check.json").read_text())
    assert report["failures"]
