from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.batching import MicroBatcher
from core.errors import ClassifierUnavailableError
from core.models import Prediction


class Counting:
    def __init__(self, inner: OnnxClassifier) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        with self.lock:
            self.calls.append(len(texts))
        return self.inner.classify(texts)


TEXTS = [f"{w} profit rose" for w in ("apple", "nokia", "tesla", "bank", "oil", "board")] + [
    "profit fell to a loss", "board meets monday"]


def test_concurrent_calls_share_batches_and_get_their_own_results(tiny_model_dir) -> None:
    # fp32 graph: its outputs do not depend on batch composition (dynamic int8 does, by
    # ~1e-4, as activation scales are per batch tensor), so any mix-up shows.
    classifier = OnnxClassifier(tiny_model_dir, model_file="model.onnx")
    counting = Counting(classifier)
    batcher = MicroBatcher(counting, max_batch=64, max_wait_ms=50)
    try:
        barrier = threading.Barrier(16)

        def one(i: int) -> list[Prediction]:
            barrier.wait()
            return batcher.classify([TEXTS[i % len(TEXTS)], TEXTS[(i + 1) % len(TEXTS)]])

        with ThreadPoolExecutor(16) as ex:
            results = list(ex.map(one, range(16)))
        expected = {t: p.probabilities.as_list() for t, p in zip(
            TEXTS, classifier.classify(TEXTS), strict=True)}
        for i, preds in enumerate(results):
            for text, p in zip([TEXTS[i % len(TEXTS)], TEXTS[(i + 1) % len(TEXTS)]], preds,
                               strict=True):
                np.testing.assert_allclose(p.probabilities.as_list(), expected[text], atol=1e-5)
        assert sum(counting.calls) == 32
        assert len(counting.calls) < 16  # requests were merged
        assert batcher.batches == len(counting.calls)
    finally:
        batcher.close()


def test_errors_reach_every_waiting_caller(classifier: OnnxClassifier) -> None:
    class Down:
        model_version = "x"

        def classify(self, texts: Sequence[str]) -> list[Prediction]:
            raise ClassifierUnavailableError("down")

    batcher = MicroBatcher(Down(), max_wait_ms=20)
    try:
        with ThreadPoolExecutor(4) as ex:
            futures = [ex.submit(batcher.classify, ["a"]) for _ in range(4)]
        for f in futures:
            with pytest.raises(ClassifierUnavailableError):
                f.result()
    finally:
        batcher.close()


def test_big_requests_bypass_the_queue(classifier: OnnxClassifier) -> None:
    counting = Counting(classifier)
    batcher = MicroBatcher(counting, max_batch=4, max_wait_ms=1000)
    try:
        assert len(batcher.classify(TEXTS)) == len(TEXTS)  # no 1 s wait, one direct call
        assert counting.calls == [len(TEXTS)] and batcher.batches == 0
        assert batcher.classify([]) == []
    finally:
        batcher.close()
