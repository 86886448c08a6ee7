"""Threads chosen by load: a lone model call gets every core, overlapping calls one each.

Checked through the classifier the server uses (its two sessions wrapped to record which
one ran) and through the API's model pool, which tells the classifier how many requests
are queued or running (core.concurrency)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from api.app import Services
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.concurrency import expected_parallel_calls
from core.models import Prediction


class Recording:
    def __init__(self, inner: Any, name: str, log: list[str], hold: float = 0.0) -> None:
        self.inner, self.name, self.log, self.hold = inner, name, log, hold

    def run(self, *args: Any) -> Any:
        self.log.append(self.name)
        time.sleep(self.hold)
        return self.inner.run(*args)

    def get_inputs(self) -> Any:
        return self.inner.get_inputs()


def test_a_lone_call_gets_every_core_and_overlapping_calls_one_each(
        tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    clf = OnnxClassifier(tiny_model_dir)
    assert clf.session_threads == [2, 1]
    log: list[str] = []
    clf._sessions = [Recording(clf._sessions[0], "wide", log, hold=0.2),
                     Recording(clf._sessions[1], "narrow", log)]
    clf.classify(["Shares rose"])
    assert log == ["wide"]
    # The caller says three calls are expected to overlap: one thread.
    token = expected_parallel_calls.set(3)
    try:
        clf.classify(["Shares rose"])
    finally:
        expected_parallel_calls.reset(token)
    assert log == ["wide", "narrow"]
    # Two calls at once in this classifier: the second one, at least, runs narrow.
    log.clear()
    first = threading.Thread(target=clf.classify, args=(["Profit fell"],))
    first.start()
    time.sleep(0.05)
    clf.classify(["Profit rose"])
    first.join()
    assert sorted(log) == ["narrow", "wide"]


def test_pinned_threads_make_one_session(tiny_model_dir: Path) -> None:
    assert OnnxClassifier(tiny_model_dir, threads=1).session_threads == [1]


class HintRecorder:
    model_version = "hint"

    def __init__(self) -> None:
        self.hints: list[int] = []

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.hints.append(expected_parallel_calls.get())
        time.sleep(0.05)
        return [Prediction.from_probabilities((0.1, 0.2, 0.7), "hint") for _ in texts]


def test_the_server_tells_the_classifier_how_many_requests_wait(tmp_path: Path) -> None:
    recorder = HintRecorder()
    services = Services(store=SQLiteSignalStore(tmp_path / "s.db"), classifier=recorder,
                        classify_workers=2)

    async def scenario() -> None:
        await services.classify_async(["alone"])
        await asyncio.gather(*(services.classify_async([f"busy {i}"]) for i in range(4)))

    try:
        asyncio.run(scenario())
    finally:
        services.close()
        services.store.close()
    assert recorder.hints[0] == 1  # a lone request: every core
    # A burst: each request sees those queued before it and itself; all but the first are
    # told to expect company (one thread each).
    assert sorted(recorder.hints[1:]) == [1, 2, 3, 4]
