from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from tests.support.feed_server import FeedServer
from tests.support.tiny_model import build_tiny_model


def pytest_configure(config: pytest.Config) -> None:
    # Tests never reach AWS: fake credentials, a fixed region, no instance metadata lookups.
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_EC2_METADATA_DISABLED": "true",
                       "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}.items():
        os.environ[key] = value
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server on 127.0.0.1, spoken to over HTTP like AWS."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def classifier(tiny_model_dir: Path) -> OnnxClassifier:
    return OnnxClassifier(tiny_model_dir)


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
