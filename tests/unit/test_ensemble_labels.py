"""A seed ensemble as teacher: `relabel_with_ensemble` relabels a soft-label file with the mean
of several teachers' probabilities and applies the labelling policies again where the file's
own steps applied them. The tiny test model and a perturbed copy of it play two teachers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import InvalidInputError
from core.names import LABELS
from model.distill import (
    TransferSet,
    add_synthetic,
    apply_headline_policy,
    read_soft_labels,
    relabel_with_ensemble,
    teacher_probabilities,
    write_soft_labels,
)
from model.synth import headline_policy

# Probabilities are written to 6 decimals and move in the last ones when the same sentence is
# batched with others (padding changes the kernels' blocking): compare to 1e-5, far below
# anything the ensemble or the policy changes.
ATOL = 1e-5

HEADLINES = ["Acme shares rose 12% after earnings", "Widget Corp profit fell to $3.5 million",
             "KBR wins $23.7M contract", "Initech to hold results call on March 3",
             "Nokia won a five-year services contract"]


@pytest.fixture(scope="module")
def second_teacher(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with every weight moved by seeded noise: another teacher, same
    tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    out = tmp_path_factory.mktemp("teacher-2")
    for f in tiny_model_dir.iterdir():
        if f.is_file():
            shutil.copy(f, out / f.name)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.5)
    model.save_pretrained(out)
    return out


def _built_file(teacher: Path, tmp: Path) -> Path:
    """A file built by the real steps with one teacher: headlines labelled by it, synthetic
    headlines under the policy, then the headline policy (two won contracts)."""
    probs = teacher_probabilities(teacher, HEADLINES, progress=False)
    base = write_soft_labels(tmp / "base.csv",
                             TransferSet(list(HEADLINES), ["headlines_train"] * len(HEADLINES),
                                         ["positive", "negative", "neutral", "neutral",
                                          "neutral"]),
                             probs, {"split_seed": 42, "command": "test"})
    add_synthetic(teacher, base, tmp / "synth.csv", per_template=1, progress=False)
    apply_headline_policy(tmp / "synth.csv", tmp / "built.csv")
    return tmp / "built.csv"


def test_one_teacher_reproduces_the_file_it_labelled(tiny_model_dir: Path,
                                                     tmp_path: Path) -> None:
    built = _built_file(tiny_model_dir, tmp_path)
    result = relabel_with_ensemble([tiny_model_dir], built, tmp_path / "again.csv",
                                   progress=False)
    before, after = read_soft_labels(built), read_soft_labels(tmp_path / "again.csv")
    assert (after.texts, after.sources, after.gold) == (before.texts, before.sources,
                                                        before.gold)
    np.testing.assert_allclose(after.probs, before.probs, atol=ATOL)
    (teacher,) = result["ensemble"]["teachers"]
    assert teacher["file_max_abs_difference"] <= ATOL
    assert teacher["file_top_label_agreement"] == 1.0
    policy = result["ensemble"]["policy"]
    assert policy["rows"] == sum(s == "synthetic" and g is not None
                                 for s, g in zip(before.sources, before.gold, strict=True)) + 2
    # The file's earlier provenance is kept; the step is recorded on top of it.
    assert after.provenance["command"] == "test" and "headline_policy" in after.provenance


def test_two_teachers_average_and_the_policies_hold(tiny_model_dir: Path, second_teacher: Path,
                                                    tmp_path: Path) -> None:
    built = _built_file(tiny_model_dir, tmp_path)
    result = relabel_with_ensemble([tiny_model_dir, second_teacher], built,
                                   tmp_path / "ens.csv", progress=False)
    before, after = read_soft_labels(built), read_soft_labels(tmp_path / "ens.csv")
    assert (after.texts, after.gold) == (before.texts, before.gold)
    mean = (teacher_probabilities(tiny_model_dir, before.texts, progress=False)
            + teacher_probabilities(second_teacher, before.texts, progress=False)) / 2
    policy = [g if s == "synthetic" else headline_policy(t) if s == "headlines_train" else None
              for t, s, g in zip(before.texts, before.sources, before.gold, strict=True)]
    assert policy.count("positive") >= 2  # the two won contracts at least
    for p_file, p_mean, label in zip(after.probs, mean, policy, strict=True):
        if label is None or LABELS[int(p_mean.argmax())] == label:
            np.testing.assert_allclose(p_file, p_mean, atol=ATOL)  # the mean, as it is
        else:  # overruled by the policy
            assert LABELS[int(p_file.argmax())] == label and abs(p_file.max() - 0.9) < 1e-9
    assert not np.allclose(after.probs, before.probs, atol=1e-3)  # the second teacher counts
    first, second = result["ensemble"]["teachers"]
    assert first["file_max_abs_difference"] <= ATOL < second["file_max_abs_difference"]
    for figures in (first["figures"], second["figures"], result["ensemble"]["figures"]):
        assert {"validation", "validation_headlines", "test", "validation_score"} <= set(figures)
        assert 0 <= figures["validation"]["accuracy"] <= 1


def test_no_teacher_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    built = _built_file(tiny_model_dir, tmp_path)
    with pytest.raises(InvalidInputError, match="at least one teacher"):
        relabel_with_ensemble([], built, tmp_path / "x.csv", progress=False)
