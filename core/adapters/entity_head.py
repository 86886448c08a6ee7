"""The sentiment toward one company in a text, from the student's own token states.

The release graph also outputs the hidden states of one encoder layer (every token); for a
target span the features are that layer's first token, the mean over the target's tokens
and the mean over CONTEXT tokens on either side; a multinomial logistic regression
(`entity_head.json`, trained by `newsig model entity-head`) turns them into the three
probabilities. One model run serves the headline's prediction and every company in it.

Each target is read in the sentence around it (at most WINDOW_CHARS characters), as the
head was trained and cross-validated: a headline is its own sentence (the one run serves it
all); a passage costs one run per sentence holding targets. A head with `clause` (the third
rule's E) also reads the logits of that sentence and of the target's clause."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import ModelNotFoundError
from core.names import ENTITY_HEAD_FILE, LABELS

HEAD_FILE = ENTITY_HEAD_FILE
WINDOW_CHARS = 600


def target_window(text: str, start: int, end: int, max_chars: int = WINDOW_CHARS
                  ) -> tuple[int, int]:
    """[left, right) of the sentence(s) around text[start:end], at most max_chars."""
    left = max(text.rfind(". ", 0, start), text.rfind("\n", 0, start))
    left = 0 if left < 0 else left + 2
    right = text.find(". ", end)
    right = len(text) if right < 0 else right + 1
    if right - left > max_chars:
        left = max(left, start - max_chars // 2)
        right = min(len(text), left + max_chars)
    return left, right


#: Where one clause of a sentence ends and the next begins (docs/entity-sentiment.md, third
#: rule): "Macy's rises after beat while Kohl's slumps".
CLAUSE_BREAK = re.compile(r";| - | while | whereas | but | although | though | however |"
                          r", and |, as ", re.IGNORECASE)


def clause_span(text: str, start: int, end: int) -> tuple[int, int]:
    """[left, right) of the clause of text that holds text[start:end] (whitespace trimmed);
    the whole text where no break falls outside the span."""
    left, right = 0, len(text)
    for m in CLAUSE_BREAK.finditer(text):
        if m.end() <= start:
            left = m.end()
        elif m.start() >= end:
            right = m.start()
            break
    while left < right and text[left].isspace():
        left += 1
    while right > left and text[right - 1].isspace():
        right -= 1
    return left, right


def features(hidden: np.ndarray, offsets: Sequence[tuple[int, int]], start: int, end: int,
             context: int) -> np.ndarray | None:
    """[first token, mean of the target's tokens, mean of `context` tokens either side] of
    one layer's states (tokens x width); None when no token covers the span."""
    tokens = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and start < b]
    if not tokens:
        return None
    lo = max(1, tokens[0] - context)
    hi = min(len(offsets) - 1, tokens[-1] + context + 1)
    around = hidden[lo:hi] if hi > lo else hidden[tokens]
    return np.concatenate([hidden[0], hidden[tokens].mean(0), around.mean(0)])


class EntityHead:
    """Weights and the layers the features come from; predicts LABELS-order probabilities."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, *,
                 hidden_output: str | Sequence[str], context: int, version: str,
                 clause: bool = False) -> None:
        self.weights, self.bias = weights, bias
        #: The features end with the logits of the text and of the target's clause.
        self.clause = clause
        self.hidden_outputs = ([hidden_output] if isinstance(hidden_output, str)
                               else list(hidden_output))
        self.context, self.version = context, version

    @property
    def hidden_output(self) -> str:
        return self.hidden_outputs[-1]

    def features(self, hidden: Sequence[np.ndarray], offsets: Sequence[tuple[int, int]],
                 start: int, end: int) -> np.ndarray | None:
        """The features of one span from each of the head's layers, concatenated."""
        parts = [features(h, offsets, start, end, self.context) for h in hidden]
        if any(p is None for p in parts):
            return None
        return np.concatenate(parts)  # type: ignore[arg-type]

    @classmethod
    def load(cls, model_dir: Path) -> EntityHead | None:
        path = model_dir / HEAD_FILE
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text())
            if doc["labels"] != list(LABELS):
                raise ValueError(f"labels {doc['labels']} are not {list(LABELS)}")
            weights = np.asarray(doc["weights"], dtype=np.float64)
            bias = np.asarray(doc["bias"], dtype=np.float64)
            if weights.shape[0] != len(LABELS) or bias.shape != (len(LABELS),):
                raise ValueError(f"weights {weights.shape} and bias {bias.shape} do not fit")
            layers = doc.get("hidden_outputs") or [doc["hidden_output"]]
            return cls(weights, bias, hidden_output=[str(x) for x in layers],
                       context=int(doc["context"]), version=str(doc.get("version", "")),
                       clause=bool(doc.get("clause", False)))
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ModelNotFoundError(f"{path} is not an entity head: {exc}") from exc

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weights.T + self.bias
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def save(self, path: Path, **extra: object) -> Path:
        layers = ({"hidden_output": self.hidden_outputs[0]} if len(self.hidden_outputs) == 1
                  else {"hidden_outputs": self.hidden_outputs})
        path.write_text(json.dumps({
            "labels": list(LABELS), **layers, "context": self.context,
            "version": self.version, **({"clause": True} if self.clause else {}),
            "weights": np.round(self.weights, 6).tolist(),
            "bias": np.round(self.bias, 6).tolist(), **extra}) + "\n")
        return path
