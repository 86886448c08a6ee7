"""Builds adapters from settings. The only place clients and backends are chosen.

Adapters are imported lazily so `core` pulls in no optional dependency at import time.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from core.errors import ConfigError
from core.ports import Classifier, SignalStore
from core.settings import Settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def build_store(url: str) -> SignalStore:
    """A store from a URL: sqlite:///path/to/signals.db or dynamodb://TABLE?region=..."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        from core.adapters.sqlite_store import SQLiteSignalStore

        # sqlite:///var/signals.db -> var/signals.db ; sqlite:////abs/path.db -> /abs/path.db
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parts.path
        if not path:
            raise ConfigError(f"store URL {url!r} names no file: use sqlite:///path/signals.db")
        return SQLiteSignalStore(path)
    if parts.scheme == "dynamodb":
        try:
            from core.adapters.dynamodb_store import DynamoDBSignalStore
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise ConfigError(f"DynamoDB store needs the 'aws' extra: {exc}") from exc
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        table = parts.netloc or parts.path.lstrip("/")
        if not table:
            raise ConfigError(f"store URL {url!r} names no table: use dynamodb://TABLE")
        ttl = query.get("ttl_days")
        return DynamoDBSignalStore(table, region=query.get("region"),
                                   endpoint_url=query.get("endpoint_url"),
                                   ttl_days=float(ttl) if ttl else None)
    raise ConfigError(f"unknown store URL {url!r}: use sqlite:///PATH or dynamodb://TABLE")


def build_classifier(settings: Settings) -> Classifier:
    kind = settings.classifier.lower()
    if kind == "onnx":
        from core.adapters.onnx_classifier import OnnxClassifier

        return OnnxClassifier(settings.model_dir, model_file=settings.model_file,
                              threads=settings.onnx_threads, batch_size=settings.batch_size)
    if kind == "sagemaker":
        if not settings.sagemaker_endpoint:
            raise ConfigError("NEWSIG_SAGEMAKER_ENDPOINT must be set for classifier=sagemaker")
        from core.adapters.sagemaker_classifier import SageMakerClassifier

        return SageMakerClassifier(settings.sagemaker_endpoint, region=settings.aws_region,
                                   batch_size=settings.batch_size)
    raise ConfigError(f"unknown classifier {settings.classifier!r}: use onnx or sagemaker")


# boto3's default session is not thread-safe while it builds clients (a race seen once here as
# "RuntimeError" inside copy.deepcopy); clients themselves are. One lock for building them.
_CLIENT_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def dynamodb_client(region: str | None = None, endpoint_url: str | None = None) -> Any:
    """One boto3 DynamoDB client per (region, endpoint), built on first use, never at import."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3,
                    read_timeout=10, max_pool_connections=32)
    with _CLIENT_LOCK:
        return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url,
                            config=config)


@lru_cache(maxsize=8)
def sagemaker_runtime_client(region: str | None = None, timeout: float = 10.0) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3,
                    read_timeout=timeout, max_pool_connections=32)
    with _CLIENT_LOCK:
        return boto3.client("sagemaker-runtime", region_name=region, config=config)


@lru_cache(maxsize=4)
def cached_store(url: str) -> SignalStore:
    return build_store(url)


@lru_cache(maxsize=1)
def cached_classifier() -> Classifier:
    return build_classifier(get_settings())
