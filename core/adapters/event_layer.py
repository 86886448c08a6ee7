"""The event layer: what a model learned about the taxonomy's events, applied over its answer.

p'(y | x) ∝ p(y | x) · exp(Σ_k b_k[y]) over the event kinds k tagged in x (core.events), one
vector b_k per kind in LABELS order, fitted per model by `newsig model event-layer`
(model/event_layer.py, docs/events.md). A text with no tag keeps its probabilities exactly.
The file belongs to the model folder it was fitted for and is part of its model_version."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ModelNotFoundError
from core.names import EVENT_LAYER_FILE, LABELS

LAYER_FILE = EVENT_LAYER_FILE


@dataclass(frozen=True)
class EventLayer:
    biases: dict[str, tuple[float, float, float]]

    @classmethod
    def load(cls, model_dir: Path) -> EventLayer | None:
        """The folder's layer, None where it has none; a file that is not one is an error."""
        path = Path(model_dir) / LAYER_FILE
        if not path.exists():
            return None
        from core.events import KINDS

        try:
            data = json.loads(path.read_text())
            if data.get("labels") != list(LABELS):
                raise ValueError(f"labels {data.get('labels')} are not {list(LABELS)}")
            biases = {str(k): (float(v[0]), float(v[1]), float(v[2]))
                      for k, v in data["biases"].items()}
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise ModelNotFoundError(f"{path} is not an event layer: {exc}") from exc
        unknown = set(biases) - set(KINDS)
        if unknown:
            raise ModelNotFoundError(f"{path} names event kinds the taxonomy lacks: "
                                     f"{', '.join(sorted(unknown))}")
        return cls(biases)

    def save(self, model_dir: Path, report: dict | None = None) -> Path:
        path = Path(model_dir) / LAYER_FILE
        path.write_text(json.dumps({
            "labels": list(LABELS),
            "biases": {k: [round(x, 6) for x in v] for k, v in sorted(self.biases.items())},
            **({"report": report} if report else {})}, indent=1) + "\n")
        return path

    def shift(self, kinds: Sequence[str]) -> np.ndarray | None:
        """The summed bias of these kinds, None when none of them has one."""
        rows = [self.biases[k] for k in kinds if k in self.biases]
        return np.sum(np.asarray(rows), axis=0) if rows else None

    def adjust(self, texts: Sequence[str], probs: np.ndarray) -> np.ndarray:
        """probs (texts x LABELS) with each tagged text's row moved by its kinds' biases."""
        from core.events import tag_cached

        out = probs
        for i, text in enumerate(texts):
            b = self.shift(tag_cached(text))
            if b is None:
                continue
            if out is probs:
                out = probs.copy()
            row = np.log(np.clip(probs[i], 1e-12, 1.0)) + b
            row = np.exp(row - row.max())
            out[i] = row / row.sum()
        return out
