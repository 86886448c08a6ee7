"""The resumable training loop: an interrupted run resumed equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.names import LABELS
from model.loop import CHECKPOINT, LoopConfig, fit
from tests.support.tiny_model import TOY

torch = pytest.importorskip("torch")


def _model_and_tokenizer(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    # Dropout on, so the torch RNG state matters and must be restored on resume.
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _run(tiny_model_dir: Path, run_dir: Path, *, stop_after: int | None) -> tuple[dict, dict]:
    model, tokenizer = _model_and_tokenizer(tiny_model_dir)
    texts = [t for t, _ in TOY] * 3
    y = torch.tensor([LABELS.index(label) for _, label in TOY] * 3)
    loss = torch.nn.CrossEntropyLoss()
    cfg = LoopConfig(epochs=3, batch_size=4, learning_rate=1e-3, checkpoint_every=5,
                     stop_after_steps=stop_after, progress=False)
    result = fit(model, tokenizer, texts, lambda logits, idx: loss(logits, y[idx]), cfg, run_dir,
                 on_epoch_end=lambda epoch, m: {"norm": float(sum(
                     p.detach().abs().sum() for p in m.parameters()))})
    return result, {k: v.clone() for k, v in model.state_dict().items()}


def test_resume_equals_uninterrupted(tiny_model_dir: Path, tmp_path: Path) -> None:
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole, whole_state = _run(tiny_model_dir, tmp_path / "whole", stop_after=None)
        assert whole["finished"] and whole["global_step"] == 3 * 14
        # Stopped mid-epoch 1, again mid-epoch 2 (off the checkpoint cadence), then to the end.
        first, _ = _run(tiny_model_dir, tmp_path / "cut", stop_after=7)
        assert not first["finished"] and (tmp_path / "cut" / CHECKPOINT).exists()
        second, _ = _run(tiny_model_dir, tmp_path / "cut", stop_after=23)
        assert not second["finished"] and second["global_step"] == 23
        resumed, resumed_state = _run(tiny_model_dir, tmp_path / "cut", stop_after=None)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    assert resumed["finished"] and resumed["global_step"] == whole["global_step"]
    assert resumed["history"] == [{**r, "seconds": resumed["history"][i]["seconds"]}
                                  for i, r in enumerate(whole["history"])]
    for name, tensor in whole_state.items():
        assert torch.equal(tensor, resumed_state[name]), name


def test_resume_refuses_another_configuration(tiny_model_dir: Path, tmp_path: Path) -> None:
    _run(tiny_model_dir, tmp_path / "run", stop_after=3)
    model, tokenizer = _model_and_tokenizer(tiny_model_dir)
    with pytest.raises(ValueError, match="another configuration"):
        fit(model, tokenizer, ["a"], lambda logits, idx: logits.sum(),
            LoopConfig(epochs=9, progress=False), tmp_path / "run")


