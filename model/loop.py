"""A resumable fine-tuning loop: checkpoints every few hundred steps, resumes exactly.

A checkpoint holds the model, optimizer, scheduler, every RNG state (Python, NumPy, torch),
the weights' moving average when one is kept, the epoch and the position inside it, and the
history so far. Batches of an epoch are a pure function of (seed, epoch), so a resumed run
sees exactly the batches the uninterrupted run would have seen from that point on;
`tests/unit/test_loop.py` proves resume == uninterrupted. Checkpoints are written atomically
(a temporary file renamed into place), so a run killed while writing one still resumes from
the previous one.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

CHECKPOINT = "checkpoint.pt"
#: Options that may change between a run and its resumption (they do not change results).
RESUMABLE_CHANGES = frozenset({"stop_after_steps", "progress", "threads", "checkpoint_every"})


class LoopConfig(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    epochs: int = Field(default=3, ge=1)
    """epochs"""
    learning_rate: float = Field(default=3e-5, gt=0)
    """peak learning rate (linear warm-up and decay)"""
    batch_size: int = Field(default=16, ge=1)
    """sentences per step (length-bucketed)"""
    max_length: int = Field(default=128, ge=8, le=512)
    """tokens per sentence"""
    warmup_ratio: float = Field(default=0.1, ge=0.0, lt=1.0)
    """share of steps spent warming up"""
    weight_decay: float = Field(default=0.01, ge=0.0)
    """AdamW weight decay"""
    seed: int = 42
    """seed of initialisation and batch order"""
    ema_decay: float | None = Field(default=None, gt=0.0, lt=1.0)
    """keep an exponential moving average of the weights, decay per step (warmed up as
    min(decay, (1 + step) / (10 + step))); validation, the kept epoch and the returned model
    use the average, and each epoch's record also holds the raw weights' figures under
    "raw" (none: plain weights)"""
    checkpoint_every: int = Field(default=200, ge=1)
    """save a checkpoint every this many steps (and at every epoch end)"""
    stop_after_steps: int | None = Field(default=None, ge=1)
    """stop, checkpointed, once this many steps have run in total (time-slices a long run;
    run again to go on)"""
    progress: bool = True
    """progress bars"""


def bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                     pool_batches: int = 50) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within pools of `pool_batches`
    batches, cut, shuffle the batches. Pads far less than random batches (CPU time is
    proportional to padded tokens) while every epoch still sees a new order."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def epoch_batches(lengths: Sequence[int], cfg: LoopConfig, epoch: int) -> list[list[int]]:
    return bucketed_batches(lengths, cfg.batch_size, random.Random(f"{cfg.seed}:{epoch}"))


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(),
            "torch": torch.get_rng_state()}


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def ema_update(ema: dict[str, Any], state: dict[str, Any], decay: float, step: int) -> None:
    """One step of the weights' moving average, in place: floating tensors move towards
    `state` by 1 - d with d = min(decay, (1 + step) / (10 + step)) (the early steps, far
    from the pretrained start, are not held back by it); other tensors are copied."""
    d = min(decay, (1 + step) / (10 + step))
    for name, value in state.items():
        if value.is_floating_point():
            ema[name].mul_(d).add_(value.detach(), alpha=1.0 - d)
        else:
            ema[name].copy_(value)


def save_checkpoint(path: Path, **state: Any) -> None:
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def fit(model: Any, tokenizer: Any, texts: Sequence[str],
        loss_fn: Callable[[Any, list[int]], Any], cfg: LoopConfig, run_dir: Path, *,
        param_groups: list[dict] | None = None,
        on_epoch_end: Callable[[int, Any], dict] | None = None,
        after_epoch: Callable[[list[dict], Any], bool] | None = None,
        resume: bool = True) -> dict[str, Any]:
    """Train `model` on `texts`; `loss_fn(logits, batch_indices)` gives the batch loss.

    `on_epoch_end(epoch, model)` returns figures recorded in the history (validation, say);
    `after_epoch(history, model)` then runs (to keep the best weights, say) and returns True
    to stop early.
    Returns {"history", "global_step", "finished"}; finished is False when stopped early by
    `stop_after_steps` (run again with resume to continue)."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    run_dir.mkdir(parents=True, exist_ok=True)
    from model.datasets import tokenize

    enc = tokenize(texts, tokenizer, cfg.max_length)  # a batched Dataset.map
    lengths = [len(ids) for ids in enc["input_ids"]]
    steps_per_epoch = math.ceil(len(texts) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    optimizer = torch.optim.AdamW(param_groups or model.parameters(), lr=cfg.learning_rate,
                                  weight_decay=cfg.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(cfg.warmup_ratio * total_steps), total_steps)

    epoch, position, global_step = 1, 0, 0
    history: list[dict] = []
    ema = ({k: v.detach().clone() for k, v in model.state_dict().items()}
           if cfg.ema_decay is not None else None)
    ckpt_path = run_dir / CHECKPOINT
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False)
        saved = {k: v for k, v in state["config"].items() if k not in RESUMABLE_CHANGES}
        if saved != cfg.model_dump(exclude=set(RESUMABLE_CHANGES)):
            raise ValueError(f"{ckpt_path} was written with another configuration: "
                             f"{state['config']}; use a new folder or --no-resume")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"])
        epoch, position, global_step = state["epoch"], state["position"], state["global_step"]
        history = state["history"]
        if ema is not None:
            ema = state["ema"]

    def checkpoint() -> None:
        save_checkpoint(ckpt_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                        scheduler=scheduler.state_dict(), rng=_rng_state(), epoch=epoch,
                        position=position, global_step=global_step, history=history, ema=ema,
                        config=cfg.model_dump(exclude=set(RESUMABLE_CHANGES)))

    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    bar = tqdm(total=total_steps, initial=global_step, desc="train", unit="step",
               disable=not cfg.progress)
    started = time.time()
    while epoch <= cfg.epochs:
        batches = epoch_batches(lengths, cfg, epoch)
        model.train()
        while position < len(batches):
            idx = batches[position]
            batch = tokenizer.pad({k: [enc[k][i] for i in idx] for k in keys},
                                  return_tensors="pt")
            loss = loss_fn(model(**batch).logits, idx)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            position += 1
            global_step += 1
            if ema is not None:
                ema_update(ema, model.state_dict(), cfg.ema_decay or 0.0, global_step)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.4f}")
            stop = cfg.stop_after_steps is not None and global_step >= cfg.stop_after_steps
            if global_step % cfg.checkpoint_every == 0 or stop:
                checkpoint()
            if stop and position < len(batches):
                bar.close()
                return {"history": history, "global_step": global_step, "finished": False}
        checkpoint()  # the epoch's steps are safe before validation runs
        record: dict[str, Any] = {"epoch": epoch, "global_step": global_step,
                                  "seconds": round(time.time() - started, 1)}
        raw = None
        if ema is not None:  # the raw weights' figures first, then the average's
            if on_epoch_end is not None:
                record["raw"] = on_epoch_end(epoch, model)
            raw = {k: v.detach().clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema)
        if on_epoch_end is not None:
            record.update(on_epoch_end(epoch, model))
        history.append(record)
        bar.write(json.dumps(record))
        stop_early = after_epoch(history, model) if after_epoch is not None else False
        if raw is not None:
            model.load_state_dict(raw)
        epoch, position = epoch + 1, 0
        checkpoint()
        if stop_early:
            bar.write(f"early stop after epoch {epoch - 1}")
            break
        if cfg.stop_after_steps is not None and global_step >= cfg.stop_after_steps:
            bar.close()
            return {"history": history, "global_step": global_step,
                    "finished": epoch > cfg.epochs}
    bar.close()
    if ema is not None:
        model.load_state_dict(ema)
    return {"history": history, "global_step": global_step, "finished": True}
