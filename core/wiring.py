"""Builds adapters, clients and the use-case service from settings. The only place clients
and backends are chosen, and the only module that knows every adapter: adapters never import
it back (they take their client as an argument).

Adapters and boto3 are imported lazily so `core` pulls in no optional dependency at import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from core.errors import ConfigError
from core.ports import Classifier, SignalStore
from core.retry import RetryPolicy
from core.service import SignalService
from core.settings import Settings

if TYPE_CHECKING:
    from core.entities import Linker


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


# boto3's default session is not thread-safe while it builds clients (a race seen once here as
# "RuntimeError" inside copy.deepcopy); clients themselves are. One lock for building them.
_CLIENT_LOCK = threading.Lock()


def aws_config(max_attempts: int, *, read_timeout: float = 10.0) -> Any:
    """The one retry configuration of every AWS call: botocore's standard mode, bounded."""
    from botocore.config import Config

    return Config(retries={"total_max_attempts": max_attempts, "mode": "standard"},
                  connect_timeout=3, read_timeout=read_timeout, max_pool_connections=32)


@lru_cache(maxsize=8)
def dynamodb_client(region: str | None = None, endpoint_url: str | None = None,
                    max_attempts: int = 3) -> Any:
    """One boto3 DynamoDB client per (region, endpoint), built on first use, never at import."""
    import boto3

    with _CLIENT_LOCK:
        return boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url,
                            config=aws_config(max_attempts))


@lru_cache(maxsize=8)
def events_client(region: str | None = None, max_attempts: int = 3) -> Any:
    import boto3

    with _CLIENT_LOCK:
        return boto3.client("events", region_name=region, config=aws_config(max_attempts))


@lru_cache(maxsize=8)
def ws_management_client(endpoint: str, region: str | None = None, max_attempts: int = 3
                         ) -> Any:
    import boto3

    with _CLIENT_LOCK:
        return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint,
                            region_name=region, config=aws_config(max_attempts))


@lru_cache(maxsize=8)
def secrets_client(region: str | None = None) -> Any:
    import boto3

    with _CLIENT_LOCK:
        return boto3.client("secretsmanager", region_name=region, config=aws_config(3))


@lru_cache(maxsize=8)
def sagemaker_runtime_client(region: str | None = None, timeout: float = 10.0,
                             max_attempts: int = 3) -> Any:
    import boto3

    with _CLIENT_LOCK:
        return boto3.client("sagemaker-runtime", region_name=region,
                            config=aws_config(max_attempts, read_timeout=timeout))


def build_store(url: str, settings: Settings | None = None) -> SignalStore:
    """A store from a URL: sqlite:///path/to/signals.db or dynamodb://TABLE?region=..."""
    settings = settings or get_settings()
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
        workers = query.get("workers", "8")
        if not workers.isdigit() or not 1 <= int(workers) <= 64:
            raise ConfigError(f"store URL {url!r}: workers must be 1-64 (parallel writes)")
        client = dynamodb_client(query.get("region") or settings.aws_region,
                                 query.get("endpoint_url"), settings.aws_max_attempts)
        return DynamoDBSignalStore(table, client=client, ttl_days=float(ttl) if ttl else None,
                                   workers=int(workers))
    raise ConfigError(f"unknown store URL {url!r}: use sqlite:///PATH or dynamodb://TABLE")


def build_classifier(settings: Settings) -> Classifier:
    """The serving classifier: the student alone (tier fast) or the cascade (tier accurate),
    whose teacher is the built folder or, on AWS, a SageMaker endpoint."""
    from core.adapters.cascade import ACCURATE, tier_of

    fast = build_student(settings)
    if tier_of(settings.tier) != ACCURATE:
        return fast
    from core.adapters.cascade import CascadeClassifier, check_teacher_dir, read_threshold

    threshold = settings.cascade_threshold
    teacher: Classifier
    if settings.teacher_endpoint:
        from core.adapters.sagemaker_classifier import SageMakerClassifier

        client = sagemaker_runtime_client(settings.aws_region,
                                          max_attempts=settings.aws_max_attempts)
        teacher = SageMakerClassifier(settings.teacher_endpoint, client=client,
                                      batch_size=settings.batch_size)
    else:
        from core.adapters.onnx_classifier import OnnxClassifier

        check_teacher_dir(settings.teacher_dir)
        # The teacher runs on the cores the student has just used: with onnxruntime's idle
        # workers spinning, the two sessions' pools fought over them (an escalated headline
        # took 3x the teacher's own time); the teacher's sleep instead (measured in
        # docs/model.md, "The accurate tier").
        teacher = OnnxClassifier(settings.teacher_dir, threads=settings.onnx_threads,
                                 spin=False)
        if threshold is None:
            threshold = read_threshold(settings.teacher_dir)
    if threshold is None:
        from core.adapters.cascade import DEFAULT_THRESHOLD

        threshold = DEFAULT_THRESHOLD
    return CascadeClassifier(fast, teacher, threshold=threshold,
                             timeout_s=settings.teacher_timeout_s)


def check_tier(settings: Settings) -> None:
    """At start: a clear error (exit 2) for an unknown tier or, for the accurate tier, a
    teacher folder that is missing, partial or not a teacher; never a silent fallback."""
    from core.adapters.cascade import ACCURATE, check_teacher_dir, tier_of

    if tier_of(settings.tier) == ACCURATE and not settings.teacher_endpoint:
        check_teacher_dir(settings.teacher_dir)


def build_student(settings: Settings) -> Classifier:
    kind = settings.classifier.lower()
    if kind == "onnx":
        from core.adapters.onnx_classifier import OnnxClassifier

        return OnnxClassifier(settings.model_dir, model_file=settings.model_file,
                              threads=settings.onnx_threads)
    if kind == "sagemaker":
        if not settings.sagemaker_endpoint:
            raise ConfigError("NEWSIG_SAGEMAKER_ENDPOINT must be set for classifier=sagemaker")
        from core.adapters.sagemaker_classifier import SageMakerClassifier

        client = sagemaker_runtime_client(settings.aws_region,
                                          max_attempts=settings.aws_max_attempts)
        return SageMakerClassifier(settings.sagemaker_endpoint, client=client,
                                   batch_size=settings.batch_size)
    raise ConfigError(f"unknown classifier {settings.classifier!r}: use onnx or sagemaker")


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(attempts=settings.retry_attempts)


def build_service(settings: Settings, *, store: SignalStore | None = None,
                  classifier: Classifier | None = None,
                  classifier_factory: Callable[[], Classifier] | None = None) -> SignalService:
    """The use cases over the configured store and classifier (built on first use)."""
    return SignalService(store if store is not None else build_store(settings.store_url,
                                                                     settings),
                         classifier,
                         classifier_factory=classifier_factory or (
                             lambda: build_classifier(settings)),
                         retry=retry_policy(settings), chunk=settings.classify_chunk,
                         linker_factory=lambda: build_linker(settings))


def build_linker(settings: Settings) -> Linker:
    """The entity linker over the packaged universe and the user's ticker table, if any."""
    from core.entities import default_linker

    return default_linker(str(settings.ticker_table) if settings.ticker_table else None)


@lru_cache(maxsize=1)
def cached_service() -> SignalService:
    """One service per process (Lambda containers reuse it across invocations)."""
    return build_service(get_settings())


@lru_cache(maxsize=1)
def ws_registry() -> Any:
    """The WebSocket connection registry, in the configured DynamoDB signals table."""
    from core.adapters.ws_registry import ConnectionRegistry

    settings = get_settings()
    store = build_store(settings.store_url, settings)
    table, client = getattr(store, "table", None), getattr(store, "client", None)
    if table is None or client is None:
        raise ConfigError("the WebSocket API needs the DynamoDB store (dynamodb://TABLE)")
    return ConnectionRegistry(table, client=client)
