"""The agreement-weighted loss: each PhraseBank row counts by its annotators' agreement."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from model.analysis import agreement_weights


def _write(dir_: Path, name: str, lines: list[str]) -> None:
    (dir_ / name).write_text("".join(f"{t}@neutral\n" for t in lines), encoding="latin-1")


@pytest.fixture()
def fpb(tmp_path: Path) -> Path:
    # Each file holds the ones above it, as the PhraseBank's do.
    all_, s75, s66, s50 = ["All agree ."], ["Three in four ."], ["Two in three ."], ["Half ."]
    _write(tmp_path, "Sentences_AllAgree.txt", all_)
    _write(tmp_path, "Sentences_75Agree.txt", all_ + s75)
    _write(tmp_path, "Sentences_66Agree.txt", all_ + s75 + s66)
    _write(tmp_path, "Sentences_50Agree.txt", all_ + s75 + s66 + s50)
    return tmp_path


def test_weights_follow_the_most_agreed_file(fpb: Path) -> None:
    texts = ["All agree .", "Three in four .", "Two  in three .", "Half .", "Half .",
             "A headline ."]
    sources = ["phrasebank_train", "phrasebank_train", "phrasebank_extra", "phrasebank_extra",
               "augmented", "headlines_train"]
    # Whitespace differences do not matter; a non-PhraseBank row is 1.0 even if its text
    # happens to be a PhraseBank sentence (an augmented variant left unchanged).
    assert agreement_weights(texts, sources, fpb) == [1.0, 0.75, 0.66, 0.5, 1.0, 1.0]


def test_a_phrasebank_row_in_no_file_is_an_error(fpb: Path) -> None:
    with pytest.raises(ValueError, match="1 PhraseBank row"):
        agreement_weights(["Never annotated ."], ["phrasebank_train"], fpb)


def test_committed_soft_labels_have_every_phrasebank_row_weighted() -> None:
    from model.distill import read_soft_labels

    soft = read_soft_labels()
    weights = agreement_weights(soft.texts, soft.sources)
    by = Counter((s, w) for s, w in zip(soft.sources, weights, strict=True)
                 if s.startswith("phrasebank"))
    # train is 75Agree (so 1.0 or 0.75), the extras are 50-74% (0.66 or 0.5).
    assert set(by) == {("phrasebank_train", 1.0), ("phrasebank_train", 0.75),
                       ("phrasebank_extra", 0.66), ("phrasebank_extra", 0.5)}
    assert by[("phrasebank_train", 1.0)] + by[("phrasebank_train", 0.75)] == 2482
    assert by[("phrasebank_extra", 0.66)] + by[("phrasebank_extra", 0.5)] == 1389


def _batch() -> tuple:
    import torch

    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, -0.5, 1.5]],
                          requires_grad=True)
    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    gold = torch.tensor([0, -1, 2])
    return logits, teacher, gold


def test_unit_weights_give_the_unweighted_loss() -> None:
    import torch

    from model.train import TrainConfig, distillation_loss

    logits, teacher, gold = _batch()
    cfg = TrainConfig()
    plain = distillation_loss(logits, gold, teacher, cfg)
    ones = distillation_loss(logits, gold, teacher, cfg, torch.ones(3))
    assert ones.item() == pytest.approx(plain.item(), rel=1e-6)


def test_weights_scale_each_rows_terms() -> None:
    import torch
    import torch.nn.functional as F

    from model.train import TrainConfig, distillation_loss

    logits, teacher, gold = _batch()
    cfg = TrainConfig(kd_temperature=2.0, kd_weight=0.7)
    w = torch.tensor([0.5, 1.0, 0.75])
    t = 2.0
    soft = torch.softmax(torch.log(teacher) / t, -1)
    kl_rows = (soft * (soft.log() - F.log_softmax(logits / t, -1))).sum(-1)
    kl = (kl_rows * w).sum() / 3 * t * t
    ce_rows = F.cross_entropy(logits[[0, 2]], gold[[0, 2]], reduction="none")
    ce = (ce_rows * w[[0, 2]]).sum() / 2
    got = distillation_loss(logits, gold, teacher, cfg, w)
    assert got.item() == pytest.approx((0.7 * kl + 0.3 * ce).item(), rel=1e-5)


def test_a_zero_weight_row_teaches_nothing() -> None:
    import torch

    from model.train import TrainConfig, distillation_loss

    logits, teacher, gold = _batch()
    distillation_loss(logits, gold, teacher, TrainConfig(), torch.tensor([1.0, 1.0, 0.0])
                      ).backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[2] == 0)
    assert torch.any(logits.grad[0] != 0)


def test_row_weights_need_the_distill_recipe() -> None:
    from pydantic import ValidationError

    from model.train import TrainConfig

    with pytest.raises(ValidationError, match="distill recipe"):
        TrainConfig(recipe="finetune", row_weights="agreement")
    assert TrainConfig(row_weights="agreement").row_weights == "agreement"
    with pytest.raises(ValidationError):
        TrainConfig.model_validate({"row_weights": "length"})


def test_training_targets_carry_the_weights_row_by_row() -> None:
    from model.distill import read_soft_labels
    from model.train import TrainConfig, _training_targets, load_training_data

    cfg = TrainConfig(row_weights="agreement")
    texts, _, _, weights = _training_targets(cfg, load_training_data(cfg))
    soft = read_soft_labels(cfg.soft_labels)
    assert texts == soft.texts
    assert weights.tolist() == pytest.approx(agreement_weights(soft.texts, soft.sources))
    plain = _training_targets(TrainConfig(), load_training_data(TrainConfig()))
    assert plain[3] is None
