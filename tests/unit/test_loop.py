"""The resumable training loop: an interrupted run resumed equals an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.names import LABELS
from model.loop import CHECKPOINT, LoopConfig, ema_update, fit
from tests.support.tiny_model import TOY

torch = pytest.importorskip("torch")


def _model_and_tokenizer(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    # Dropout on, so the torch RNG state matters and must be restored on resume.
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _norm(m) -> dict:  # type: ignore[no-untyped-def]
    return {"norm": float(sum(p.detach().abs().sum() for p in m.parameters()))}


def _run(tiny_model_dir: Path, run_dir: Path, *, stop_after: int | None,
         ema_decay: float | None = None) -> tuple[dict, dict]:
    model, tokenizer = _model_and_tokenizer(tiny_model_dir)
    texts = [t for t, _ in TOY] * 3
    y = torch.tensor([LABELS.index(label) for _, label in TOY] * 3)
    loss = torch.nn.CrossEntropyLoss()
    cfg = LoopConfig(epochs=3, batch_size=4, learning_rate=1e-3, checkpoint_every=5,
                     stop_after_steps=stop_after, progress=False, ema_decay=ema_decay)
    result = fit(model, tokenizer, texts, lambda logits, idx: loss(logits, y[idx]), cfg, run_dir,
                 on_epoch_end=lambda epoch, m: _norm(m))
    return result, {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_resume_equals_uninterrupted(tiny_model_dir: Path, tmp_path: Path,
                                     ema_decay: float | None) -> None:
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        whole, whole_state = _run(tiny_model_dir, tmp_path / "whole", stop_after=None,
                                  ema_decay=ema_decay)
        assert whole["finished"] and whole["global_step"] == 3 * 14
        # Stopped mid-epoch 1, again mid-epoch 2 (off the checkpoint cadence), then to the end.
        first, _ = _run(tiny_model_dir, tmp_path / "cut", stop_after=7, ema_decay=ema_decay)
        assert not first["finished"] and (tmp_path / "cut" / CHECKPOINT).exists()
        second, _ = _run(tiny_model_dir, tmp_path / "cut", stop_after=23, ema_decay=ema_decay)
        assert not second["finished"] and second["global_step"] == 23
        resumed, resumed_state = _run(tiny_model_dir, tmp_path / "cut", stop_after=None,
                                      ema_decay=ema_decay)
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




def test_ema_update_is_the_warmed_up_moving_average() -> None:
    ema = {"w": torch.tensor([1.0, 2.0]), "ids": torch.tensor([0, 1])}
    state = {"w": torch.tensor([3.0, 6.0]), "ids": torch.tensor([5, 7])}
    ema_update(ema, state, decay=0.99, step=1)  # warm-up: d = 2 / 11
    d = 2 / 11
    assert torch.allclose(ema["w"], torch.tensor([d * 1 + (1 - d) * 3, d * 2 + (1 - d) * 6]))
    assert torch.equal(ema["ids"], state["ids"])
    ema = {"w": torch.tensor([1.0])}
    ema_update(ema, {"w": torch.tensor([2.0])}, decay=0.5, step=10_000)  # d = decay
    assert torch.allclose(ema["w"], torch.tensor([1.5]))


def test_ema_leaves_the_raw_trajectory_alone_and_returns_the_average(
        tiny_model_dir: Path, tmp_path: Path) -> None:
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        plain, plain_state = _run(tiny_model_dir, tmp_path / "plain", stop_after=None)
        averaged, averaged_state = _run(tiny_model_dir, tmp_path / "ema", stop_after=None,
                                        ema_decay=0.9)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    # Keeping the average changes nothing in training: each epoch's raw figures are exactly
    # those of the run without it.
    assert [r["raw"]["norm"] for r in averaged["history"]] == [
        r["norm"] for r in plain["history"]]
    # The figures recorded (and the weights returned) are the average's, not the raw ones.
    assert all(r["norm"] != r["raw"]["norm"] for r in averaged["history"])
    assert averaged["history"][-1]["norm"] == pytest.approx(_norm_of(averaged_state))
    assert any(not torch.equal(v, averaged_state[k]) for k, v in plain_state.items()
               if v.is_floating_point())


def _norm_of(state: dict) -> float:
    return float(sum(v.abs().sum() for k, v in state.items()
                     if v.is_floating_point() and "position_ids" not in k))
