from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from tests.support.feed_server import FeedServer
from tests.support.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def classifier(tiny_model_dir: Path) -> OnnxClassifier:
    return OnnxClassifier(tiny_model_dir, batch_size=4)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteSignalStore]:
    store = SQLiteSignalStore(tmp_path / "signals.db")
    yield store
    store.close()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()
