"""The accurate tier: a confidence cascade of the fast student and the teacher.

The student answers every text; a text goes on to the teacher when the student is unsure
(its top probability is below `threshold`, chosen on validation for a stated escalation
rate: `newsig model cascade`) or when the student contradicts an event the text reports
(core.events: "files for Chapter 11" tagged `bankruptcy`, whose default polarity is
negative, labelled neutral). Each prediction says which model answered (`model_version`,
`tier`). A teacher call that fails or outlasts `timeout_s` leaves the student's answers,
marked `tier: fast`, and is counted (`stats`), never raised: the cascade degrades to the
fast tier instead of failing a request.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.models import Prediction
from core.names import LABELS
from core.ports import Classifier, TargetedClassifier

log = logging.getLogger("newsig.cascade")

FAST, ACCURATE = "fast", "accurate"
TIERS = (FAST, ACCURATE)
CASCADE_FILE = "cascade.json"
TEACHER_INFO_FILE = "teacher.json"
#: Threshold when the teacher folder has no cascade.json (the one `newsig model cascade`
#: chose for the release student and the shipped teacher recipe; see docs/model.md).
DEFAULT_THRESHOLD = 0.90


def check_teacher_dir(path: Path) -> dict[str, Any]:
    """A built teacher folder, or a ConfigError saying how to build one: missing, partial,
    not a teacher (a student's folder has no teacher.json) or for other labels."""
    from core.names import LABELS_FILE, MODEL_FILE, TOKENIZER_FILE, VERSION_FILE

    how = "build it with `make teacher` (or set NEWSIG_TEACHER_DIR)"
    if not path.is_dir():
        raise ConfigError(f"no teacher at {path}: {how}")
    missing = [n for n in (MODEL_FILE, TOKENIZER_FILE, LABELS_FILE, VERSION_FILE,
                           TEACHER_INFO_FILE) if not (path / n).exists()]
    if missing:
        raise ConfigError(f"teacher folder {path} is incomplete (no {', '.join(missing)}): "
                          f"{how}")
    try:
        labels = json.loads((path / LABELS_FILE).read_text())["labels"]
        info = json.loads((path / TEACHER_INFO_FILE).read_text())
    except (ValueError, KeyError, OSError) as exc:
        raise ConfigError(f"teacher folder {path}: unreadable labels.json or teacher.json "
                          f"({exc}): {how}") from exc
    if sorted(labels) != sorted(LABELS):
        raise ConfigError(f"teacher at {path} predicts {labels}, not {list(LABELS)}: {how}")
    if info.get("role") != "teacher":
        raise ConfigError(f"{path / TEACHER_INFO_FILE} does not describe a teacher: {how}")
    return info


def read_threshold(path: Path) -> float:
    file = path / CASCADE_FILE
    if not file.exists():
        return DEFAULT_THRESHOLD
    try:
        value = float(json.loads(file.read_text())["threshold"])
    except (ValueError, KeyError, OSError) as exc:
        raise ConfigError(f"{file}: no numeric threshold ({exc})") from exc
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{file}: threshold {value} is not in [0, 1]")
    return value


class CascadeClassifier:
    """Classifier (and TargetedClassifier where the student is one) over two tiers."""

    def __init__(self, fast: Classifier, accurate: Classifier, *, threshold: float,
                 events: bool = True, timeout_s: float = 10.0) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"cascade threshold {threshold} is not in [0, 1]")
        self.fast = fast
        self.accurate = accurate
        self.threshold = threshold
        self.events = events
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="teacher")
        self._lock = threading.Lock()
        self.stats = {"texts": 0, "escalated": 0, "teacher_failures": 0}

    @property
    def model_version(self) -> str:
        """The tier's version (both models'): what stored scores are keyed by, so a store
        never mixes the cascade's scores with either model's alone. Each prediction still
        names the model that answered it."""
        return f"{self.fast.model_version}+{self.accurate.model_version}"

    @property
    def versions(self) -> dict[str, str]:
        return {FAST: self.fast.model_version, ACCURATE: self.accurate.model_version}

    @property
    def targeted(self) -> bool:
        return isinstance(self.fast, TargetedClassifier) and self.fast.targeted

    def escalate(self, texts: Sequence[str], fast: Sequence[Prediction]) -> list[int]:
        """Indices of the texts the teacher should answer."""
        from core.events import KINDS, tag_cached

        out = []
        for i, (text, p) in enumerate(zip(texts, fast, strict=True)):
            if max(p.probabilities.as_list()) < self.threshold:
                out.append(i)
            elif self.events:  # tagged once per text (the event layer and `events` share it)
                polarities = {KINDS[k].polarity for k in tag_cached(text)}
                polarities.discard("neutral")
                if polarities and p.label.value not in polarities:
                    out.append(i)
        return out

    def _teacher(self, texts: list[str]) -> list[Prediction] | None:
        if not texts:
            return []
        future = self._pool.submit(self.accurate.classify, texts)
        try:
            return future.result(timeout=self.timeout_s)
        except FutureTimeout:
            why = f"no answer in {self.timeout_s:g}s"
        except Exception as exc:  # any teacher failure degrades to the fast tier
            why = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.stats["teacher_failures"] += 1
        log.warning("teacher failed for %d texts, the student answers: %s", len(texts), why)
        return None

    def _combine(self, texts: Sequence[str], fast: list[Prediction]
                 ) -> tuple[list[Prediction], list[int]]:
        fast = [p.model_copy(update={"tier": FAST}) for p in fast]
        idx = self.escalate(texts, fast)
        answers = self._teacher([texts[i] for i in idx])
        with self._lock:
            self.stats["texts"] += len(texts)
            self.stats["escalated"] += len(idx) if answers is not None else 0
        if answers is None:
            return fast, []
        out = list(fast)
        for i, p in zip(idx, answers, strict=True):
            out[i] = p.model_copy(update={"tier": ACCURATE})
        return out, idx

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        return self._combine(texts, self.fast.classify(list(texts)))[0]

    def classify_targets(self, items: Sequence[tuple[str, Sequence[tuple[int, int]]]]
                         ) -> list[tuple[Prediction, list[Prediction]]]:
        """The student's entity head gives the sentiment toward each company; for a text the
        teacher answered that names one company, that company takes the teacher's answer."""
        assert isinstance(self.fast, TargetedClassifier)
        scored = self.fast.classify_targets(items)
        texts = [t for t, _ in items]
        heads, idx = self._combine(texts, [p for p, _ in scored])
        out = [(h, list(per)) for h, (_, per) in zip(heads, scored, strict=True)]
        for i in idx:
            if len(out[i][1]) == 1:
                out[i] = (out[i][0], [out[i][0]])
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def tier_of(value: str) -> str:
    tier = value.strip().lower()
    if tier not in TIERS:
        raise ConfigError(f"unknown tier {value!r}: use {' or '.join(TIERS)}")
    return tier


__all__ = [
    "ACCURATE",
    "FAST",
    "LABELS",
    "TIERS",
    "CascadeClassifier",
    "check_teacher_dir",
    "read_threshold",
    "tier_of",
]
